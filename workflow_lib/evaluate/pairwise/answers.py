"""Answer generation for pairwise judging, as Cherry LLM's `eva_generation.py` does it.

Prompt (`template`): "alpaca" (the reference's default) formats every question with the Alpaca
no-input prompt, and Self-instruct questions whose instance has an input with the with-input
prompt; "chat" is the stated alternative for models fine-tuned with a chat template: one user
turn (the instruction, then a blank line and the input if any) rendered with the tokenizer's
own template.

Decoding is greedy (`do_sample=False`, whatever the model's generation config says: the reference
relies on the default, which is greedy for Llama-2 base models) and stops at the generation
config's and the tokenizer's end tokens. `max_length` counts prompt and answer tokens, as
`generate(input_ids, max_length=1024)` does: a question's answer has at most `max_length − prompt
tokens` tokens (at least one, as `generate` makes when the prompt already fills `max_length`).

Questions are generated `batch_size` at a time, left-padded; each answer is cut to its own
budget, so a batch gives the answers batch size 1 (the reference's) gives, up to floating-point
differences of padded batched arithmetic (greedy picks can flip on near-ties, more likely in
bf16/fp16 on a GPU than in float32): `batch_size: 1` reproduces the reference's procedure exactly.

Answer extraction: "alpaca" decodes prompt and answer together (special tokens skipped, no
clean-up of spaces) and keeps the text after "Response:", leading whitespace kept, as the
reference's `outputs.split("Response:")[1]`; when the question itself contains "Response:" the
split is at the template's own (last) one in the prompt instead, where the reference would cut
inside the question (none of the five sets has such a question). "chat" decodes the new tokens
alone, stripped, as MT-bench does.

Answer records (one JSONL line per question): `set, question_id, run, template, max_length,
answer, new_tokens`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from tqdm import tqdm

from workflow_lib.data.prompts import ALPACA_INPUT, ALPACA_NO_INPUT
from workflow_lib.evaluate.mtbench.answers import load_chat_model, stop_ids
from workflow_lib.evaluate.pairwise.testsets import Question
from workflow_lib.models.loading import input_device

TEMPLATES = ("alpaca", "chat")
ANSWER_MARK = "Response:"


def alpaca_prompt(question: Question) -> str:
    """The Alpaca prompt of a question: with input when it has one (Self-instruct only)."""
    if question.input:
        return ALPACA_INPUT.format_map({"instruction": question.instruction,
                                        "input": question.input})
    return ALPACA_NO_INPUT.format_map({"instruction": question.instruction})


def chat_prompt(question: Question, tokenizer) -> str:
    """One user turn (instruction, then a blank line and the input if any) in the tokenizer's
    chat template, ready for the assistant's answer."""
    content = f"{question.instruction}\n\n{question.input}" if question.input \
        else question.instruction
    return tokenizer.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                         add_generation_prompt=True)


def extract_answer(decoded: str, prompt: str) -> str:
    """The text after the prompt's last "Response:" (its first, as in the reference, unless the
    question contains the word) in `decoded`, the prompt and answer decoded together."""
    marks = prompt.count(ANSWER_MARK)
    parts = decoded.split(ANSWER_MARK, marks)
    if marks == 0 or len(parts) <= marks:
        raise ValueError(f"the decoded output has fewer than {marks} {ANSWER_MARK!r} of its "
                         f"prompt (the tokenizer does not round-trip it): {decoded[:200]!r}")
    return parts[marks]


@torch.inference_mode()
def _answer_batch(model, tokenizer, questions: Sequence[Question], template: str,
                  max_length: int) -> list[tuple[str, int]]:
    """(answer, new tokens) of each question of one batch."""
    alpaca = template == "alpaca"
    prompts = [alpaca_prompt(q) if alpaca else chat_prompt(q, tokenizer) for q in questions]
    # Alpaca prompts are plain text: the tokenizer adds its BOS, as in the reference; rendered
    # chat templates already hold theirs.
    batch = tokenizer(prompts, return_tensors="pt", padding=True,
                      add_special_tokens=alpaca).to(input_device(model))
    width = batch["input_ids"].shape[1]
    budgets = [max(max_length - int(n), 1) for n in batch["attention_mask"].sum(dim=1)]
    ends = stop_ids(model, tokenizer)
    out = model.generate(**batch, max_new_tokens=max(budgets), do_sample=False,
                         temperature=None, top_p=None, top_k=None, eos_token_id=ends,
                         pad_token_id=tokenizer.pad_token_id)
    stops = {*ends, tokenizer.pad_token_id}
    answers = []
    for row, prompt, budget in zip(out, prompts, budgets, strict=True):
        new = row[width:width + budget]
        produced = next((i for i, t in enumerate(new.tolist()) if t in stops), len(new))
        if alpaca:
            decoded = tokenizer.decode(row[:width + budget], skip_special_tokens=True,
                                       clean_up_tokenization_spaces=False)
            answers.append((extract_answer(decoded, prompt), produced))
        else:
            answers.append((tokenizer.decode(new, skip_special_tokens=True).strip(), produced))
    return answers


def generate_answers(model_dir: str | os.PathLike, questions: Sequence[Question], run: str, *,
                     template: str = "alpaca", max_length: int = 1024, batch_size: int = 8,
                     device: str = "cpu", dtype: str = "float32", device_map: str | None = None,
                     threads: int | None = None, progress: bool = True) -> list[dict]:
    """Answer records of the model in `model_dir` (named `run`) to `questions`, in order; the
    model is loaded in `dtype` on `device`, or spread over the GPUs with `device_map="auto"`."""
    if template not in TEMPLATES:
        raise ValueError(f"template must be one of {TEMPLATES}, not {template!r}")
    if threads is not None:
        torch.set_num_threads(threads)
    model, tokenizer = load_chat_model(model_dir, device, dtype,
                                       require_chat_template=template == "chat",
                                       device_map=device_map)
    records = []
    batches = [questions[i:i + batch_size] for i in range(0, len(questions), batch_size)]
    for batch in tqdm(batches, desc=f"pairwise answers of {run}", disable=not progress):
        answers = _answer_batch(model, tokenizer, batch, template, max_length)
        for q, (answer, new_tokens) in zip(batch, answers, strict=True):
            records.append({"set": q.set, "question_id": q.question_id, "run": run,
                            "template": template, "max_length": max_length, "answer": answer,
                            "new_tokens": new_tokens})
    return records
