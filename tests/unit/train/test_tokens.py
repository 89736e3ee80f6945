"""The selected set's mean length in tokens of the base model's tokenizer."""

import json

from transformers import AutoTokenizer

from workflow_lib.data.records import conversation_text
from workflow_lib.models.tiny import build_tiny_model, synthetic_texts
from workflow_lib.train.tokens import mean_tokens


def test_mean_tokens_counts_the_conversation_text_without_special_tokens(tmp_path):
    model = build_tiny_model(tmp_path / "tiny", synthetic_texts())
    records = [{"id": str(i), "source": "s", "meta": {},
                "conversations": [{"from": "human", "value": f"question {i} " * (i + 1)},
                                  {"from": "gpt", "value": "an answer"}]} for i in range(5)]
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    tokenizer = AutoTokenizer.from_pretrained(model)
    counts = [len(tokenizer(conversation_text(r), add_special_tokens=False)["input_ids"])
              for r in records]
    assert mean_tokens(data, model, batch=2) == sum(counts) / 5
    assert len(set(counts)) == 5  # the records differ in length
    (tmp_path / "empty.jsonl").write_text("")
    assert mean_tokens(tmp_path / "empty.jsonl", model) is None
