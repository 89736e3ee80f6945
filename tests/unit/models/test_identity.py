"""The model fingerprint: changed by any change to weights, config or tokenizer; kept by copies,
moves and new modification times; reads a bounded amount of each weight file."""

from __future__ import annotations

import builtins
import json
import os
import shutil
import struct
from collections import Counter
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from workflow_lib.core.errors import UserError
from workflow_lib.models.identity import (
    SAMPLE_BYTES,
    model_files,
    model_fingerprint,
    model_identity,
)
from workflow_lib.models.tiny import build_tiny_model, synthetic_texts


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("identity") / "tiny", synthetic_texts())


@pytest.fixture
def copy(tiny, tmp_path) -> Path:
    return shutil.copytree(tiny, tmp_path / "copy")


def test_model_files_are_what_from_pretrained_reads(tiny):
    assert [p.name for p in model_files(tiny)] == [
        "config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
        "tokenizer_config.json"]


def test_copies_moves_and_modification_times_keep_the_fingerprint(tiny, copy, tmp_path):
    moved = copy.rename(tmp_path / "moved")
    for path in moved.iterdir():
        os.utime(path, (0, 0))
    (moved / "sieve_model.json").write_text("{}")  # files beside the model do not count
    (moved / ".snakemake_timestamp").touch()
    assert model_fingerprint(moved) == model_fingerprint(tiny)
    assert model_identity(moved) == {"path": str(moved), "fingerprint": model_fingerprint(tiny)}


def fingerprint_with(folder: Path, weights: dict[str, torch.Tensor]) -> str:
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return model_fingerprint(folder)


@pytest.mark.parametrize("position", [0, -1])
def test_a_changed_value_at_either_end_of_a_tensor_changes_the_fingerprint(copy, position):
    weights = load_file(copy / "model.safetensors")
    before = fingerprint_with(copy, weights)  # same header and layout as the edited file
    name = next(iter(weights))
    weights[name] = weights[name].clone()
    weights[name].view(-1)[position] += 1e-3  # one value of one tensor
    assert fingerprint_with(copy, weights) != before


def test_trained_weights_change_the_fingerprint(copy):
    """A dense update of every tensor (what a training step or a merged LoRA does)."""
    weights = load_file(copy / "model.safetensors")
    before = fingerprint_with(copy, weights)
    gen = torch.Generator().manual_seed(0)
    nudged = {k: v + 1e-2 * torch.randn(v.shape, generator=gen) for k, v in weights.items()}
    assert fingerprint_with(copy, nudged) != before


@pytest.mark.parametrize("name", ["config.json", "tokenizer_config.json", "generation_config.json"])
def test_a_changed_config_or_tokenizer_file_changes_the_fingerprint(tiny, copy, name):
    path = copy / name
    config = json.loads(path.read_text())
    config["sieve_test"] = 1
    path.write_text(json.dumps(config))
    assert model_fingerprint(copy) != model_fingerprint(tiny)


def test_an_added_model_file_changes_the_fingerprint(tiny, copy):
    (copy / "chat_template.jinja").write_text("{{ messages }}")
    assert model_fingerprint(copy) != model_fingerprint(tiny)


def test_a_folder_without_config_or_with_a_broken_weight_file_is_a_user_error(copy, tmp_path):
    with pytest.raises(UserError, match=r"no config\.json"):
        model_fingerprint(tmp_path)
    (copy / "model.safetensors").write_bytes(b"\xff" * 4)
    with pytest.raises(UserError, match="not a safetensors file"):
        model_fingerprint(copy)


def sparse_safetensors(path: Path, tensors: dict[str, int]) -> None:
    """A valid safetensors file of float32 tensors of the given element counts, whose data is
    a hole (the file system stores no blocks for it)."""
    header, offset = {}, 0
    for name, n in tensors.items():
        header[name] = {"dtype": "F32", "shape": [n], "data_offsets": [offset, offset + 4 * n]}
        offset += 4 * n
    raw = json.dumps(header).encode()
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + offset)


def test_reads_a_bounded_amount_of_each_weight_file_whatever_its_size(tiny, tmp_path,
                                                                      monkeypatch):
    """What is read of a 4 GiB weight file: its header and both ends of each of its tensors."""
    folder = shutil.copytree(tiny, tmp_path / "big")
    (folder / "model.safetensors").unlink()
    sizes = {"a": 2**29, "b": 2**29, "tiny": 3}  # 2 x 2 GiB, and 12 bytes
    sparse_safetensors(folder / "model-00001-of-00001.safetensors", sizes)
    read: Counter[str] = Counter()
    real_open = builtins.open

    class Counting:
        def __init__(self, fh, name):
            self.fh, self.name = fh, name

        def read(self, *args):
            data = self.fh.read(*args)
            read[self.name] += len(data)
            return data

        def __getattr__(self, attr):
            return getattr(self.fh, attr)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    def counting_open(file, mode="r", *args, **kwargs):
        return Counting(real_open(file, mode, *args, **kwargs), Path(file).name)

    monkeypatch.setattr(builtins, "open", counting_open)
    model_fingerprint(folder)
    monkeypatch.undo()
    weights = folder / "model-00001-of-00001.safetensors"
    header = weights.stat().st_size - 4 * sum(sizes.values())
    assert read[weights.name] == header + 2 * 2 * SAMPLE_BYTES + 12
    assert read["config.json"] == (folder / "config.json").stat().st_size  # small files: whole
