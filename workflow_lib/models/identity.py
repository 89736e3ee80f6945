"""The identity of a model folder: a fingerprint of what `from_pretrained` reads, cheap for
multi-GB weights, recorded in every manifest of a file that a model produced.

The fingerprint is the SHA-256 over, for each model file (`MODEL_FILES`) in name order, its
name and size and
- for `*.safetensors`: the header (every tensor's name, dtype, shape and byte offsets) and the
  first and last `SAMPLE_BYTES` of every tensor's data;
- for every other file (configs, tokenizer files, other weight formats): its whole content.

Why this is honest enough: a different architecture, dtype, vocabulary, tokenizer, chat
template or generation config changes a hashed file or header. Training changes the values of
every trained tensor densely (each step updates all elements that get a gradient; a merged LoRA
adds the dense product B·A to each adapted matrix), so the first and last bytes of those tensors
change too, as they do in a conversion to another dtype. Only an edit confined to the interior
of tensors, leaving both ends of every tensor untouched, would go unnoticed; no stage of the
pipeline makes one. The cost is independent of the weights' size: per safetensors file the
header plus at most 2 · SAMPLE_BYTES per tensor are read. Content only: copies, moves and
touched modification times keep the fingerprint. Files beside the model (this project's
manifests, axolotl.yaml, Snakemake's timestamps) are not part of it.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from workflow_lib.core.errors import UserError
from workflow_lib.core.manifest import file_sha256

# What makes a model folder (weights, model and generation configs, tokenizer files).
MODEL_FILES = ("*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin", "config.json",
               "generation_config.json", "tokenizer*", "special_tokens_map.json",
               "added_tokens.json", "vocab.json", "merges.txt", "chat_template.*")
SCHEME = "sieve-model-fingerprint/1"  # changes whenever what is hashed changes
SAMPLE_BYTES = 4096


def model_files(model_dir: str | Path) -> list[Path]:
    """The top-level files of a model folder that `MODEL_FILES` names, sorted by name."""
    folder = Path(model_dir)
    return sorted({p for pattern in MODEL_FILES for p in folder.glob(pattern) if p.is_file()})


def _safetensors_digest(path: Path, digest) -> None:
    """Feed the header and both ends of every tensor of a safetensors file into `digest`."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        prefix = fh.read(8)
        header_len = struct.unpack("<Q", prefix)[0] if len(prefix) == 8 else size
        if 8 + header_len > size:
            raise UserError(f"{path}: not a safetensors file (header runs past the end)")
        header = fh.read(header_len)
        digest.update(header)
        try:
            tensors = json.loads(header)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise UserError(f"{path}: not a safetensors file ({err})") from None
        spans = sorted(tuple(t["data_offsets"]) for name, t in tensors.items()
                       if name != "__metadata__")
        data_start = 8 + header_len
        for begin, end in spans:
            head = min(SAMPLE_BYTES, end - begin)
            fh.seek(data_start + begin)
            digest.update(fh.read(head))
            tail = min(SAMPLE_BYTES, end - begin - head)
            if tail:
                fh.seek(data_start + end - tail)
                digest.update(fh.read(tail))


def model_fingerprint(model_dir: str | Path) -> str:
    """Hex fingerprint of the model in `model_dir` (see the module docstring); UserError if the
    folder holds no config.json."""
    files = model_files(model_dir)
    if not any(p.name == "config.json" for p in files):
        raise UserError(f"{model_dir}: no config.json, not a model folder")
    digest = hashlib.sha256(SCHEME.encode())
    for path in files:
        digest.update(f"\0{path.name}\0{path.stat().st_size}\0".encode())
        if path.suffix == ".safetensors":
            _safetensors_digest(path, digest)
        else:
            digest.update(bytes.fromhex(file_sha256(path)))
    return digest.hexdigest()


def model_identity(model_dir: str | Path) -> dict:
    """`{"path", "fingerprint"}` of a model folder, as manifests record it."""
    return {"path": str(model_dir), "fingerprint": model_fingerprint(model_dir)}
