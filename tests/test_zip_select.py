"""ZIP selection: a literal port of the reference loop vs zip_reference and the fast path."""

import random
import zlib

import pytest
import torch

from workflow_lib.errors import UserError
from workflow_lib.zip_select import (
    Prefix,
    ZipError,
    select_zip,
    zip_clean,
    zip_fast,
    zip_reference,
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
    """methods.md §1.3 pseudo-code, line by line."""
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
def test_reference_and_fast_match_the_port(n, dups, budget, k1, k2, k3):
    pool = make_pool(n, seed=n + dups, dups=dups)
    expected = port_zip(pool, budget, k1, k2, k3)
    assert len(expected) == k3 * -(-budget // k3)
    assert zip_reference(pool, budget, k1, k2, k3) == expected
    assert zip_fast(pool, budget, k1, k2, k3, workers=2) == expected
    assert zip_fast(pool, budget, k1, k2, k3, workers=1) == expected


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
    with pytest.raises(ZipError, match="exceeds the pool"):
        zip_reference(pool, 31, 20, 10, 5)
    with pytest.raises(ZipError, match="k3 <= k2"):
        zip_fast(pool, 10, 20, 5, 10)
    with pytest.raises(ZipError, match="k2 <= k1"):
        zip_fast(pool, 10, 10, 20, 5)
    bad = [*pool[:-1], {k: v for k, v in pool[-1].items() if k != "source"}]
    with pytest.raises(ZipError, match="source"):
        zip_reference(bad, 10, 20, 10, 5)
    assert issubclass(ZipError, UserError)


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

    def as_reference(r):
        return {k: v for k, v in r.items() if k != "meta"}

    indices, info = select_zip(canon, 20, {"kind": "zip", "k1": 40, "k2": 10, "k3": 5},
                               reference_record=as_reference)
    assert indices == port_zip([as_reference(r) for r in canon], 20, 40, 10, 5)
    assert info["zlib_runtime_version"] == zlib.ZLIB_RUNTIME_VERSION
    assert info["mode"] == "reference" and info["n_selected"] == 20
    indices, info = select_zip(canon, 0.5, {"kind": "zip", "mode": "clean", "k1": 40,
                                            "k2": 10, "k3": 5})
    assert len(indices) == 30 and info["mode"] == "clean"
    with pytest.raises(ZipError, match="mode"):
        select_zip(canon, 20, {"mode": "other", "k1": 40, "k2": 10, "k3": 5})
