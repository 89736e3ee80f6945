"""IFD scoring and selection through Snakemake: scattergather shards, gather (with the scores'
manifest), three methods; a finished run plans nothing more."""

import json

import pyarrow.parquet as pq
import pytest

from tests.support import TINY_CONFIG, load_config, planned_jobs, snakemake, write_config
from workflow_lib.models.identity import model_fingerprint

# tests/configs/ifd.yaml over the tiny config (its eval block merged one level down).
_IFD = load_config("ifd")
IFD_CONFIG = {**TINY_CONFIG, **_IFD, "eval": {**TINY_CONFIG["eval"], **_IFD["eval"]}}


@pytest.mark.slow
def test_ifd_selections_run_through_snakemake(tmp_path):
    write_config(tmp_path, IFD_CONFIG)
    jobs = planned_jobs(snakemake(tmp_path, "-n", "select_all"))
    assert jobs["ifd_score_shard"] == 4 and jobs["ifd_gather"] == 2 and jobs["select"] == 3
    targets = ("results/selections/demo/superfiltering/5/manifest.json",
               "results/selections/demo/sfd/5/manifest.json")
    snakemake(tmp_path, *targets)
    assert planned_jobs(snakemake(tmp_path, "-n", *targets)) == {}
    pool = [json.loads(line) for line in (tmp_path / "results/pools/demo.jsonl").open()]
    scores = pq.read_table(tmp_path / "results/scores/demo/sf.parquet").to_pylist()
    assert [row["id"] for row in scores] == [r["id"] for r in pool]
    assert not list((tmp_path / "results/scores/demo/sf").glob("*.progress.jsonl"))
    scored = json.loads((tmp_path / "results/scores/demo/sf.manifest.json").read_text())
    assert scored["model"] == {"path": "resources/models/tiny",
                               "fingerprint": model_fingerprint(tmp_path / "resources/models/tiny")}
    assert scored["n_records"] == 40 and scored["scorer"]["preset"] == "superfiltering"
    for method, budget in (("superfiltering", "5"), ("sfd", "5")):
        cell = tmp_path / "results/selections/demo" / method / budget
        manifest = json.loads((cell / "manifest.json").read_text())
        data = [json.loads(line) for line in (cell / "data.jsonl").open()]
        assert manifest["selected_ids"] == [r["id"] for r in data]
        info = manifest["ifd"]
        assert info["n_pool"] == 40
        assert info["n_scored"] + sum(info["dropped_unscored"].values()) == 40
        assert manifest["scorer"]["preset"] == "superfiltering"
    sf = json.loads((tmp_path / "results/selections/demo/superfiltering/5/manifest.json")
                    .read_text())
    by_id = {row["id"]: row["ifd"] for row in scores}
    chosen = [by_id[i] for i in sf["selected_ids"]]
    assert len(chosen) == min(5, sf["ifd"]["n_kept"]) and chosen == sorted(chosen, reverse=True)
    assert all(v < 1 for v in chosen)
