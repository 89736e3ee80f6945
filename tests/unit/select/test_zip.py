"""ZIP selection: the fast path against a literal port of the reference loop (docs/methods.md §1.3),
incremental against one-shot compression, errors, clean mode, and the Snakemake rule."""

import json
import random
import string
import zlib

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import TINY_CONFIG, snakemake, write_config
from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import read_jsonl
from workflow_lib.data.demo_pool import generate_pool
from workflow_lib.data.formats import convert_file, to_reference_sharegpt
from workflow_lib.data.records import conversation_text
from workflow_lib.select.budget import Budget, BudgetError, Rounding
from workflow_lib.select.output import compression_ratio, zip_compression_ratio
from workflow_lib.select.request import SelectionRequest
from workflow_lib.select.zip import (
    Prefix,
    ZipError,
    max_k1_without_repeats,
    select_zip,
    zip_clean,
    zip_fast,
    zip_selection,
)

WORDS = ["the", "a", "cat", "dog", "runs", "fast", "slow", "über", "你好", "data", "model\nline",
         "'quote'", '"dq"', "42", "tab\there"]


def make_pool(n: int, seed: int, dups: int = 0) -> list[dict]:
    rng = random.Random(seed)

    def text(lo, hi):
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))

    pool = [{"id": f"p{seed}-{i}",
             "conversations": [{"from": "human", "value": text(1, 30)},
                               {"from": "gpt", "value": text(1, 80)}],
             "source": rng.choice(["a", "b"])} for i in range(n)]
    for _ in range(dups):  # exact duplicates (same id too) -> exact ties
        pool.append(dict(pool[rng.randrange(n)]))
    rng.shuffle(pool)
    return pool


def port_ratio(x):
    s = str(x).encode("utf-8")
    return len(s) / len(zlib.compress(s, level=9))


def port_zip(data, budget, k1, k2, k3):
    """docs/methods.md §1.3, step by step."""
    g = torch.tensor([port_ratio([d]) for d in data])
    final = []
    while len(final) < budget:
        _, c = torch.topk(g, k=k1, largest=False)
        c = c.tolist()
        r = torch.tensor([port_ratio([data[j] for j in final] + [data[i]]) for i in c])
        g[c] = r
        _, m = torch.topk(r, k=k2, largest=False)
        s2 = [c[j] for j in m.tolist()]
        g[s2] = 1e6
        d = [data[i] for i in s2]
        sel, seld = [], []
        while len(seld) < k3:
            r3 = torch.tensor([port_ratio([*seld, x]) for x in d])  # anchor [] + seld + [x]
            r3[sel] = 1e6
            _, j = torch.topk(r3, k=1, largest=False)
            sel += [j.item()]
            seld += [d[j.item()]]
        final += [s2[j] for j in sel]
    return final


CASES = [  # n, dups, budget, k1, k2, k3
    (60, 0, 20, 40, 10, 5),
    (80, 8, 45, 50, 20, 10),     # duplicates, overshoot to 50
    (50, 10, 30, 50, 12, 7),     # k1 == N: retired items come back (Q5)
    (120, 0, 1, 100, 30, 30),
    (40, 20, 17, 30, 8, 8),      # many ties
]


@pytest.mark.parametrize(("n", "dups", "budget", "k1", "k2", "k3"), CASES)
def test_fast_path_matches_the_port(n, dups, budget, k1, k2, k3):
    pool = make_pool(n, seed=n + dups, dups=dups)
    expected = port_zip(pool, budget, k1, k2, k3)
    assert len(expected) == k3 * -(-budget // k3)
    assert zip_fast(pool, budget, k1, k2, k3, workers=2) == expected
    assert zip_fast(pool, budget, k1, k2, k3, workers=1) == expected


def random_text(rng: random.Random, lo: int, hi: int) -> str:
    """Letters with few repeats: about one deflate symbol per byte, so blocks fill quickly."""
    return "".join(rng.choice(string.ascii_letters + " ") for _ in range(rng.randint(lo, hi)))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(n=st.integers(8, 40), dups=st.integers(0, 8), seed=st.integers(0, 10**6), data=st.data())
def test_fast_path_matches_the_port_on_random_pools(n, dups, seed, data):
    pool = make_pool(n, seed=seed, dups=dups)
    k1 = data.draw(st.integers(1, len(pool)), label="k1")
    k2 = data.draw(st.integers(1, k1), label="k2")
    k3 = data.draw(st.integers(1, k2), label="k3")
    budget = data.draw(st.integers(1, min(len(pool), 5 * k3)), label="budget")
    assert zip_fast(pool, budget, k1, k2, k3, workers=2) == port_zip(pool, budget, k1, k2, k3)


def test_fast_path_matches_the_port_across_deflate_blocks():
    """Long incompressible records: the stage-2 and stage-3 prefixes span several deflate blocks
    (16k symbols each), so the incremental states emit blocks and slide their window."""
    rng = random.Random(5)
    pool = [{"id": str(i), "source": "s",
             "conversations": [{"from": "human", "value": random_text(rng, 50, 300)},
                               {"from": "gpt", "value": random_text(rng, 1000, 3000)}]}
            for i in range(36)]
    assert zip_fast(pool, 24, 30, 12, 12, workers=2) == port_zip(pool, 24, 30, 12, 12)


def test_incremental_lengths_equal_one_shot_across_deflate_blocks():
    rng = random.Random(3)
    parts = [random_text(rng, 500, 3000).encode() for _ in range(60)]
    inc = Prefix(b"[", b", ", b"]")
    for n, part in enumerate(parts):
        x = rng.choice(parts)
        whole = b"[" + b", ".join([*parts[:n], x]) + b"]"
        assert inc.ratio_with(x) == len(whole) / len(zlib.compress(whole, 9))
        inc.append(part)
    assert inc.emitted > 40_000  # many blocks were emitted while the prefix grew


def test_incremental_lengths_equal_one_shot():
    rng = random.Random(7)
    pool = make_pool(200, seed=1)
    for _ in range(60):
        prefix = rng.sample(pool, rng.randint(0, 120))
        x = rng.choice(pool)
        inc = Prefix(b"[", b", ", b"]")
        for d in prefix:
            inc.append(repr(d).encode())
        assert inc.ratio_with(repr(x).encode()) == port_ratio([*prefix, x])
        c = inc.comp.copy()
        tail = (b", " if prefix else b"") + repr(x).encode() + b"]"
        assert inc.emitted + len(c.compress(tail) + c.flush()) == len(
            zlib.compress(str([*prefix, x]).encode(), 9))


def test_errors():
    pool = make_pool(30, seed=3)
    with pytest.raises(ZipError, match="at least k1"):
        zip_fast(pool, 10, 31, 10, 5)
    with pytest.raises(BudgetError, match="budget 31 exceeds the pool size 30"):
        zip_fast(pool, 31, 40, 10, 5)  # before k1 > N: every method reports this budget alike
    with pytest.raises(ZipError, match="k3 <= k2"):
        zip_fast(pool, 10, 20, 5, 10)
    with pytest.raises(ZipError, match="k2 <= k1"):
        zip_fast(pool, 10, 10, 20, 5)
    bad = [*pool[:-1], {k: v for k, v in pool[-1].items() if k != "source"}]
    with pytest.raises(ZipError, match="source"):
        zip_fast(bad, 10, 20, 10, 5)
    assert issubclass(ZipError, UserError)


def test_k1_bound_without_repeats_is_exact():
    """At k1 = N - k2·(rounds - 1) stage 1 never reaches a retired record; one more can repeat."""
    pool = make_pool(10, seed=0)
    bound = max_k1_without_repeats(10, 3, k2=3, k3=1)
    assert bound == 4
    assert len(set(zip_fast(pool, 3, bound, 3, 1))) == 3
    assert zip_fast(pool, 3, bound + 1, 3, 1) == [5, 9, 5]
    for seed in range(20):
        pool = make_pool(12, seed=seed)
        for budget, k2, k3 in ((4, 2, 1), (6, 2, 2), (5, 3, 2)):
            k1 = max_k1_without_repeats(12, budget, k2, k3)
            chosen = zip_fast(pool, budget, k1, k2, k3, workers=1)
            assert len(set(chosen)) == len(chosen), (seed, budget, k1, k2, k3)


def test_reference_repeats_are_warned_with_the_k1_that_avoids_them(caplog):
    canon = [{**r, "meta": {}} for r in make_pool(10, seed=0)]
    params = {"k1": 5, "k2": 3, "k3": 1}
    with caplog.at_level("INFO", logger="workflow_lib.select.zip"):
        indices, info = select_zip(canon, 3, params, reference_record=lambda r, _: r)
    assert info["n_duplicates"] == 1 and indices == [5, 9, 5]
    warnings = [r.message for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "k1 <= 4 never repeats a record" in warnings[0], warnings
    rounds = [r.message for r in caplog.records if r.message.startswith("round ")]
    assert [m.split(",")[0] for m in rounds] == ["round 1/3: 1/3 selected",
                                                  "round 2/3: 2/3 selected",
                                                  "round 3/3: 3/3 selected"]
    with pytest.raises(ZipError, match=r"lower k1 \(no k1 >= k2=3 avoids repeated records"):
        select_zip(canon, 9, {"k1": 11, "k2": 3, "k3": 1})


def test_a_pool_without_source_is_compressed_with_the_filled_value(tmp_path):
    """ZIP.py stops at a record without `source` (KeyError); the pipeline's conversion step fills
    in the pool's `source_name`, so ZIP runs, and that value is part of what it compresses."""
    raw = [{k: v for k, v in r.items() if k != "source"} for r in make_pool(60, seed=7)]
    with pytest.raises(ZipError, match="source"):
        zip_fast(raw, 10, 40, 10, 5)
    (tmp_path / "raw.json").write_text(json.dumps(raw))
    selections = []
    for name in ("s", "a much longer source name"):
        out = tmp_path / "pool.jsonl"
        convert_file(tmp_path / "raw.json", out, "sharegpt", default_source=name)
        records = [record for _, record in read_jsonl(out)]
        chosen, _ = select_zip(records, 10, {"k1": 40, "k2": 10, "k3": 5})
        assert chosen == port_zip([{**r, "source": name} for r in raw], 10, 40, 10, 5)
        selections.append(chosen)
    assert selections[0] != selections[1]


def test_clean_exact_budget_distinct_and_differs():
    pool = make_pool(150, seed=11, dups=10)
    ref = zip_fast(pool, 45, 100, 30, 10)
    clean = zip_clean(pool, 45, 100, 30, 10)
    assert len(ref) == 50
    assert len(clean) == 45 == len(set(clean))
    jaccard = len(set(ref) & set(clean)) / len(set(ref) | set(clean))
    print(f"jaccard(reference, clean) = {jaccard:.3f}")
    assert jaccard < 1
    assert zip_clean(pool, 45, 100, 30, 10, workers=1) == clean
    assert len(set(zip_clean(pool, 150, 100, 30, 10))) == 150  # the whole pool, k's shrink


def test_select_zip_on_canonical_records():
    canon = [{**r, "meta": {}} for r in make_pool(60, seed=5)]

    def as_reference(r, _position):
        return {k: v for k, v in r.items() if k != "meta"}

    indices, info = select_zip(canon, 20, {"kind": "zip", "k1": 40, "k2": 10, "k3": 5},
                               reference_record=as_reference)
    assert indices == port_zip([as_reference(r, i) for i, r in enumerate(canon)], 20, 40, 10, 5)
    assert info["zlib_runtime_version"] == zlib.ZLIB_RUNTIME_VERSION
    assert info["mode"] == "reference" and info["n_selected"] == 20
    params = {"kind": "zip", "mode": "clean", "k1": 40, "k2": 10, "k3": 5}
    selected = zip_selection(SelectionRequest(canon, Budget(0.5), Rounding.ROUND, params))
    assert len(selected.indices) == 30 and selected.details["zip"]["mode"] == "clean"
    with pytest.raises(ZipError, match="mode"):
        select_zip(canon, 20, {"mode": "other", "k1": 40, "k2": 10, "k3": 5})


def test_zip_compression_ratio_is_the_references_of_the_selected_records(tmp_path):
    raw = tmp_path / "raw.jsonl"
    raw.write_text("".join(json.dumps(r) + "\n" for r in make_pool(30, seed=3)))
    convert_file(raw, tmp_path / "pool.jsonl", "sharegpt")
    pool = [record for _, record in read_jsonl(tmp_path / "pool.jsonl")]
    positions = [4, 17, 2, 9]
    chosen = [pool[i] for i in positions]
    expected = port_ratio([to_reference_sharegpt(pool[i], i) for i in positions])
    assert zip_compression_ratio(chosen, positions) == expected
    assert expected != compression_ratio("\n".join(conversation_text(r) for r in chosen))


@pytest.mark.slow
def test_select_zip_rule_writes_selection_and_manifest_and_fails_cleanly(tmp_path):
    config = json.loads(json.dumps(TINY_CONFIG))
    config["methods"]["zip"] = {"kind": "zip", "k1": 40, "k2": 10, "k3": 5}
    config["methods"]["zip_big"] = {"kind": "zip", "k1": 100, "k2": 10, "k3": 5}
    config["eval"]["bpc"]["corpora"] = []
    write_config(tmp_path, config)
    good = tmp_path / "results/selections/demo/zip/12"
    bad = tmp_path / "results/selections/demo/zip_big/12"
    proc = snakemake(tmp_path, "--keep-going", str(good.relative_to(tmp_path) / "manifest.json"),
                     str(bad.relative_to(tmp_path) / "manifest.json"), check=False)
    assert proc.returncode != 0

    pool = [json.loads(x) for x in (tmp_path / "results/pools/demo.jsonl").read_text().splitlines()]
    assert pool == generate_pool(n=60, seed=0)
    reference = [to_reference_sharegpt(r, i) for i, r in enumerate(pool)]
    expected = [pool[i] for i in port_zip(reference, 12, 40, 10, 5)]
    data = [json.loads(x) for x in (good / "data.jsonl").read_text().splitlines()]
    assert data == expected  # 15 records: the reference rounds 12 up to whole rounds of k3
    manifest = json.loads((good / "manifest.json").read_text())
    assert manifest["selected_ids"] == [r["id"] for r in expected]
    stats = manifest["stats"]
    assert stats["n_records"] == 15
    assert stats["compression_ratio"] == compression_ratio(
        "\n".join(conversation_text(r) for r in expected))
    indices = port_zip(reference, 12, 40, 10, 5)
    assert stats["zip_compression_ratio"] == port_ratio([reference[i] for i in indices])
    assert stats["source_mix"] == {s: sum(r["source"] == s for r in expected)
                                   for s in sorted({r["source"] for r in expected})}
    assert stats["conversation_chars_mean"] == pytest.approx(
        sum(len(conversation_text(r)) for r in expected) / 15)
    assert manifest["wall_time_s"] > 0
    assert manifest["zip"]["mode"] == "reference" and manifest["zip"]["n_selected"] == 15
    assert manifest["zip"]["zlib_runtime_version"] == zlib.ZLIB_RUNTIME_VERSION

    errors = [line for line in (tmp_path / "logs/select/demo/zip_big/12.log").read_text()
              .splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "demo.jsonl" in errors[0] and "k1=100" in errors[0], errors
    assert not bad.exists() or not any(bad.iterdir()), "partial output left behind"
