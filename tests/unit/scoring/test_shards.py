"""Score shards: gathered shards equal the unsharded scores; a killed shard resumes."""

import json
from dataclasses import replace

import pytest
import torch

from workflow_lib.core.jsonio import DataError, read_jsonl, write_jsonl
from workflow_lib.models.identity import model_identity
from workflow_lib.models.tiny import build_tiny_model, synthetic_texts
from workflow_lib.scoring import ifd
from workflow_lib.scoring import presets as ifd_presets
from workflow_lib.scoring.ifd import score_pool_shard, write_scores_manifest
from workflow_lib.scoring.shards import gather_scores, read_scores, score_shard, shard_range

SCORER = {"preset": "superfiltering", "max_length": 64, "mode": "fast", "dtype": "float32",
          "batch_size": 4, "max_tokens_per_batch": None, "max_padding": 0.1,
          "chunk_size": 3}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    model = build_tiny_model(root / "gpt2", synthetic_texts(), "gpt2", init_std=0.3)
    texts = synthetic_texts(n_docs=22, seed=5)
    records = [{"id": f"p{i}", "source": "t", "meta": {}, "conversations": [
        {"from": "human", "value": texts[i]}, {"from": "gpt", "value": texts[i + 1]}]}
        for i in range(len(texts) - 1)]
    records.append({"id": "empty", "source": "t", "meta": {}, "conversations": [
        {"from": "human", "value": "x"}, {"from": "gpt", "value": ""}]})
    pool = root / "pool.jsonl"
    write_jsonl(pool, records)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield root, str(model), str(pool), [r["id"] for r in records]
    torch.set_num_threads(threads)


def test_shard_ranges_cover_the_pool():
    for n, total in [(10, 3), (2, 4), (0, 2), (7, 1)]:
        parts = [shard_range(n, f"{k}-of-{total}") for k in range(1, total + 1)]
        assert [i for r in parts for i in r] == list(range(n))
    with pytest.raises(ValueError):
        shard_range(5, "0-of-2")


def test_gathered_shards_equal_unsharded(setup):
    root, model, pool, ids = setup
    whole = score_pool_shard(pool, str(root / "all.jsonl"), "1-of-1", model, SCORER)
    shards = [str(root / f"{k}-of-3.jsonl") for k in (1, 2, 3)]
    for k, path in enumerate(shards, 1):
        score_pool_shard(pool, path, f"{k}-of-3", model, SCORER)
    n = gather_scores(shards, ids, root / "scores.parquet")
    records = [{"id": i} for i in ids]
    gathered = read_scores(root / "scores.parquet", records)
    assert n == len(ids) and [r["id"] for r in gathered] == ids
    for a, b in zip(whole, gathered, strict=True):
        assert a["reason"] == b["reason"]
        assert (a["ifd"] is None and b["ifd"] is None) or a["ifd"] == pytest.approx(b["ifd"],
                                                                                     rel=1e-5)
    assert gathered[-1]["reason"] == "empty_response" and gathered[-1]["ifd"] is None
    manifest = write_scores_manifest(str(root / "scores.manifest.json"),
                                     scores_path=str(root / "scores.parquet"), pool_path=pool,
                                     model_dir=model, scorer=SCORER)
    assert manifest["model"] == model_identity(model) and manifest["scorer"] == SCORER
    unscored = sum(row["reason"] is not None for row in gathered)
    assert manifest["n_unscored"]["empty_response"] >= 1
    assert (manifest["n_records"], manifest["n_scored"]) == (n, n - unscored)
    assert sum(manifest["n_unscored"].values()) == unscored
    assert set(manifest["inputs"]) == {"pool", "scores"}
    with pytest.raises(DataError, match="cover"):
        gather_scores(shards[:2], ids, root / "bad.parquet")
    with pytest.raises(DataError, match="no score"):
        read_scores(root / "scores.parquet", [*records, {"id": "new"}])


def test_killed_shard_resumes(tmp_path):
    out = tmp_path / "shard.jsonl"
    asked = []

    def fake(positions):
        asked.append(positions)
        return [{"id": f"i{p}", "loss_direct": 1.0, "loss_cond": 0.5, "ppl_direct": 2.7,
                 "ppl_cond": 1.6, "ifd": 0.6, "n_tokens": 9, "n_response": 4, "reason": None}
                for p in positions]

    ids = [f"i{p}" for p in range(10)]
    rows = score_shard(ids, fake, out, "key-1", chunk_size=4)
    complete = out.read_text()
    out.unlink()
    # a job killed after 5 rows, in the middle of writing the 6th
    progress = tmp_path / "shard.jsonl.progress.jsonl"
    lines = [json.dumps({"fingerprint": "key-1"}), *map(json.dumps, rows[:5])]
    progress.write_text("\n".join(lines) + "\n" + json.dumps(rows[5])[:20])
    asked.clear()
    assert score_shard(ids, fake, out, "key-1", chunk_size=4) == rows
    assert asked == [range(5, 9), range(9, 10)]
    assert out.read_text() == complete and not progress.exists()
    # a progress file from other inputs is discarded
    progress.write_text("\n".join(lines) + "\n")
    asked.clear()
    score_shard(ids, fake, out, "key-2", chunk_size=4)
    assert asked[0] == range(0, 4)


def interrupt_after_first_chunk(monkeypatch, pool, out, model) -> list[int]:
    """Score shard 2-of-2 into `out`, killed after its first chunk; returns the list that records
    the size of every chunk scored from then on."""
    real = ifd.score_records
    calls = []
    crash = [True]

    def crash_on_second_chunk(records, *args, **kwargs):
        calls.append(len(records))
        if crash[0] and len(calls) == 2:
            raise RuntimeError("killed")
        return real(records, *args, **kwargs)

    monkeypatch.setattr(ifd, "score_records", crash_on_second_chunk)
    with pytest.raises(RuntimeError, match="killed"):
        score_pool_shard(pool, str(out), "2-of-2", model, SCORER)
    assert not out.exists()
    calls.clear()
    crash[0] = False
    return calls


def test_real_shard_resume_matches(setup, tmp_path, monkeypatch):
    """A real shard killed after its first chunk resumes to the rows of an uninterrupted run."""
    _, model, pool, _ = setup
    full = score_pool_shard(pool, str(tmp_path / "a.jsonl"), "2-of-2", model, SCORER)
    out = tmp_path / "b.jsonl"
    calls = interrupt_after_first_chunk(monkeypatch, pool, out, model)
    resumed = score_pool_shard(pool, str(out), "2-of-2", model, SCORER)
    assert sum(calls) == len(full) - SCORER["chunk_size"]  # the first chunk was not redone
    assert [r["id"] for r in resumed] == [r["id"] for r in full]
    for a, b in zip(full, resumed, strict=True):
        assert a["reason"] == b["reason"] and (a["ifd"] == b["ifd"] or a["ifd"] == pytest.approx(
            b["ifd"], rel=1e-6))
    assert [row for _, row in read_jsonl(out)] == resumed


def test_progress_under_other_preset_rules_is_discarded(setup, tmp_path, monkeypatch):
    """Rows scored under another version of the preset's rules are not resumed."""
    _, model, pool, ids = setup
    out = tmp_path / "c.jsonl"
    calls = interrupt_after_first_chunk(monkeypatch, pool, out, model)
    old = ifd_presets.PRESETS["superfiltering"]
    monkeypatch.setitem(ifd_presets.PRESETS, "superfiltering", replace(old, reference="older"))
    score_pool_shard(pool, str(out), "2-of-2", model, SCORER)
    assert sum(calls) == len(shard_range(len(ids), "2-of-2"))  # every chunk was scored again
