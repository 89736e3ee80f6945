"""The BPC entry point on a tiny real model equals sliding_window_bpc; its outputs follow the
metrics contract."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from workflow_lib.core.errors import UserError
from workflow_lib.evaluate.bpc import bpc_metrics, model_bpc, write_bpc_result
from workflow_lib.evaluate.metrics import read_metrics, write_metrics
from workflow_lib.models.identity import model_identity
from workflow_lib.models.tiny import build_tiny_model, synthetic_texts
from workflow_lib.scoring.bpc import sliding_window_bpc

SETTINGS = {"block_size": 24, "stride": 8, "batch_size": 3, "dtype": "float32", "device": "cpu"}


@pytest.fixture(autouse=True)
def restore_threads():
    """model_bpc sets torch's thread count; give the next test back what it had."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("bpc-eval") / "tiny", synthetic_texts(),
                            init_std=0.3)


@pytest.fixture
def corpus(tmp_path):
    texts = [*synthetic_texts(n_docs=6, seed=3), ""]
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps({"content": t, "subset": "cc"}) + "\n" for t in texts),
                    encoding="utf-8")
    return path, texts


def test_model_bpc_equals_sliding_window_bpc_on_the_loaded_model(model_dir, corpus):
    path, texts = corpus
    result = model_bpc(model_dir, path, threads=1, progress=False, **SETTINGS)
    direct = sliding_window_bpc(AutoModelForCausalLM.from_pretrained(model_dir),
                                AutoTokenizer.from_pretrained(model_dir), texts,
                                block_size=24, stride=8, batch_size=3, progress=False)
    assert result == direct
    assert torch.get_num_threads() == 1
    assert result.n_empty_docs == 1 and result.n_windows > 1


def test_corpus_shorter_than_a_window_is_a_user_error_naming_the_setting(model_dir, corpus):
    path, _ = corpus
    with pytest.raises(UserError, match=r"corpus\.jsonl.*eval\.bpc\.block_size"):
        model_bpc(model_dir, path, **{**SETTINGS, "block_size": 5000}, progress=False)


def test_results_gather_into_a_valid_metrics_document(model_dir, corpus, tmp_path):
    path, _ = corpus
    result = model_bpc(model_dir, path, threads=1, progress=False, **SETTINGS)
    identity = model_identity(model_dir)
    (model_dir / ".snakemake_timestamp").touch()
    docs = []
    for name in ("cc", "python"):
        written = write_bpc_result(tmp_path / f"{name}.json", result, run="base-tiny",
                                   corpus=name, model_dir=model_dir, corpus_path=path,
                                   settings=SETTINGS, wall_time_s=1.23456)
        assert json.loads((tmp_path / f"{name}.json").read_text()) == written
        docs.append(written)
    assert docs[0]["result"]["bpc"] == result.bpc and docs[0]["settings"] == SETTINGS
    assert set(docs[0]["inputs"]) == {"corpus"}
    assert docs[0]["model"] == identity  # Snakemake's timestamp file is not part of the model

    metrics = bpc_metrics("base-tiny", docs)
    write_metrics(tmp_path / "metrics.json", metrics)
    assert read_metrics(tmp_path / "metrics.json") == metrics
    assert metrics.evaluator == "bpc"
    assert json.loads((tmp_path / "metrics.json").read_text())["metrics"] == [
        {"benchmark": name, "metric": "bpc", "value": result.bpc, "stderr": None,
         "n": result.n_chars, "higher_is_better": False} for name in ("cc", "python")]
    with pytest.raises(ValueError, match="run 'base-tiny' given for run 'other'"):
        bpc_metrics("other", docs)
