"""MT-bench answer generation: FastChat's `gen_model_answer` semantics on any device, batched.

FastChat 0.2.36 hard-codes CUDA and picks a conversation template from the model id. Here the
model's own chat template (from its tokenizer) formats the conversation; questions are batched by
temperature (FastChat's per-category table; greedy below 1e-4); turn 2 sees turn 1's
question and answer. Generation stops at the tokenizer's and generation config's end tokens.
`write_answers` stores them with a manifest naming the model by its identity.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import torch
from tqdm import tqdm

from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import write_jsonl
from workflow_lib.core.manifest import write_manifest
from workflow_lib.core.threads import set_threads
from workflow_lib.evaluate.mtbench.questions import DEFAULT_TEMPERATURE, TEMPERATURES, answer_record
from workflow_lib.models.identity import model_identity
from workflow_lib.models.loading import input_device, load_model, load_tokenizer


def load_chat_model(model_dir: str | os.PathLike, device: str, dtype: str,
                    require_chat_template: bool = True, device_map: str | None = None):
    """Model (eval mode, on `device` or spread by `device_map`, `load_model`) and left-padding
    tokenizer (padding with eos without a pad token); UserError without a pad/eos token, or
    without a chat template when `require_chat_template`."""
    tokenizer = load_tokenizer(model_dir, padding_side="left", pad_with_eos=True)
    if require_chat_template and not tokenizer.chat_template:
        raise UserError(f"{model_dir}: the tokenizer has no chat template, which these answers "
                        "are generated with")
    return load_model(model_dir, dtype=dtype, device=device, device_map=device_map), tokenizer


def stop_ids(model, tokenizer) -> list[int]:
    """End tokens: the generation config's and the tokenizer's eos."""
    ids = model.generation_config.eos_token_id
    ids = [] if ids is None else [ids] if isinstance(ids, int) else list(ids)
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return list(dict.fromkeys(ids))


@torch.inference_mode()
def _generate(model, tokenizer, conversations: Sequence[list[dict]], temperature: float,
              max_new_tokens: int) -> list[str]:
    prompts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
               for c in conversations]
    batch = tokenizer(prompts, return_tensors="pt", padding=True,
                      add_special_tokens=False).to(input_device(model))
    sampling = {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0} \
        if temperature >= 1e-4 else {"do_sample": False, "temperature": None, "top_p": None,
                                     "top_k": None}
    out = model.generate(**batch, max_new_tokens=max_new_tokens, eos_token_id=stop_ids(
        model, tokenizer), pad_token_id=tokenizer.pad_token_id, **sampling)
    new = out[:, batch["input_ids"].shape[1]:]
    return [tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in new]


def generate_answers(model_dir: str | os.PathLike, questions: Sequence[dict], model_id: str, *,
                     device: str = "cpu", dtype: str = "float32", device_map: str | None = None,
                     batch_size: int = 8, max_new_tokens: int = 1024, seed: int = 0,
                     threads: int | None = None, progress: bool = True) -> list[dict]:
    """FastChat answer records (one choice, two turns) for `questions`, in question order.

    Each batch is seeded with `seed`, so answers do not depend on which other jobs ran. The
    model is loaded in `dtype` on `device`, or spread over the GPUs with `device_map="auto"`.
    """
    set_threads(threads)
    model, tokenizer = load_chat_model(model_dir, device, dtype, device_map=device_map)
    by_temperature: dict[float, list[dict]] = {}
    for q in questions:
        by_temperature.setdefault(TEMPERATURES.get(q["category"], DEFAULT_TEMPERATURE),
                                  []).append(q)
    batches = [(t, qs[i:i + batch_size]) for t, qs in by_temperature.items()
               for i in range(0, len(qs), batch_size)]
    answers = {}
    for temperature, batch in tqdm(batches, desc=f"MT-bench answers of {model_id}",
                                   disable=not progress):
        torch.manual_seed(seed)
        conversations = [[{"role": "user", "content": q["turns"][0]}] for q in batch]
        first = _generate(model, tokenizer, conversations, temperature, max_new_tokens)
        for conversation, q, answer in zip(conversations, batch, first, strict=True):
            conversation += [{"role": "assistant", "content": answer},
                             {"role": "user", "content": q["turns"][1]}]
        second = _generate(model, tokenizer, conversations, temperature, max_new_tokens)
        for q, a1, a2 in zip(batch, first, second, strict=True):
            answers[q["question_id"]] = answer_record(q["question_id"], model_id, [a1, a2],
                                                      time.time())
    return [answers[q["question_id"]] for q in questions]


def write_answers(path: str | os.PathLike, manifest: str | os.PathLike, records: Sequence[dict],
                  *, run: str, model_dir: str | os.PathLike, questions: str | os.PathLike,
                  generation: dict) -> dict:
    """Write a run's answer records (FastChat's JSONL) and their manifest: the generation
    settings, the model's identity, the questions' hash; returns the manifest."""
    write_jsonl(path, records)
    return write_manifest(manifest, inputs={"questions": questions}, run=run,
                          model=model_identity(model_dir), generation=generation,
                          n_answers=len(records))
