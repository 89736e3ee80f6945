"""IterIT's update step against a brute-force transcription of the reference loop
(docs/methods.md §3.3)."""

import json
import math
import random
import subprocess

import numpy as np
import pytest
import torch

from tests.support import TOOLS_PYTHON
from workflow_lib.select.iterit.select import (
    greedy_diversity,
    tfidf_matrix,
    update_order,
    word_ngrams,
)

WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "far", "away", "quick", "brown",
         "fox", "jumps", "over", "lazy"]


def brute_force_update(scores, targets, m, score_type, decay):
    """The reference loop, literally: dense matrix, full row sums (column order, as scipy's CSC
    matvec) every step, column decay; argmax restricted to unpicked rows (quirk 5 fixed)."""
    scores = np.asarray(scores, dtype=np.float32)
    cand = [i for i in range(len(scores)) if scores[i] < 1.0]
    other = [i for i in range(len(scores)) if scores[i] >= 1.0]
    ifd = sorted(range(len(cand)), key=lambda k: -scores[cand[k]])      # stable
    if score_type == "IFD":
        ranked = ifd
    else:
        x = tfidf_matrix([targets[i] for i in cand]).dense()
        ranked = []
        for _ in range(min(m, len(cand))):
            div = np.cumsum(x, axis=1)[:, -1] if x.shape[1] else np.zeros(len(cand))
            s = scores[cand].astype(np.float64) * div
            s[ranked] = -np.inf
            j = int(np.argmax(s))
            for c in np.flatnonzero(x[j]):
                x[:, c] *= decay
                x[j, c] = 0.0
            ranked.append(j)
        ranked += [k for k in ifd if k not in ranked]
    order = [cand[k] for k in ranked]
    return order[:m] + other + order[m:]


def random_case(seed, n, ties=True):
    rng = random.Random(seed)
    targets = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 25))) + "<|im_end|>"
               for _ in range(n)]
    raw = [rng.uniform(0.3, 1.3) for _ in range(n)]
    raw[rng.randrange(n)] = math.nan
    scores = torch.tensor(raw)
    if ties:   # the reference stores scores in bf16: many exact ties
        scores = scores.to(torch.bfloat16).float()
    return scores.numpy(), targets


@pytest.mark.parametrize("score_type", ["BOTH", "IFD"])
@pytest.mark.parametrize("decay", [0.0, 0.1])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_update_matches_brute_force(score_type, decay, seed):
    scores, targets = random_case(seed, 80)
    got = update_order(scores, targets, 20, score_type=score_type, decay=decay)
    assert got == brute_force_update(scores, targets, 20, score_type, decay)
    assert sorted(got) == [i for i in range(80) if not math.isnan(scores[i])]


def test_both_and_ifd_differ_and_ifd_is_descending():
    scores, targets = random_case(3, 80, ties=False)
    ifd = update_order(scores, targets, 20, score_type="IFD")
    both = update_order(scores, targets, 20, score_type="BOTH")
    assert ifd[:20] != both[:20]
    assert list(scores[ifd[:20]]) == sorted(scores[ifd[:20]], reverse=True)
    assert all(scores[i] >= 1 for i in ifd[20:] if scores[i] >= 1) and max(scores[ifd[:20]]) < 1


@pytest.mark.parametrize("score_type", ["BOTH", "IFD"])
def test_fewer_candidates_than_m(score_type):
    scores = np.array([1.2, 0.5, 0.9, 1.0, 0.7, np.nan], dtype=np.float32)
    targets = ["a b", "cat dog", "cat fox", "x y", "dog fox", "zz"]
    got = update_order(scores, targets, 4, score_type=score_type, decay=0.1)
    assert got == brute_force_update(scores, targets, 4, score_type, 0.1)
    assert sorted(got[:3]) == [1, 2, 4] and got[3:] == [0, 3]   # no duplicates, NaN dropped
    assert len(set(got)) == len(got) == 5


def test_ties_keep_position_order():
    scores = np.full(6, 0.5, dtype=np.float32)
    assert update_order(scores, ["same text"] * 6, 3, score_type="IFD") == list(range(6))
    assert update_order(scores, ["same text"] * 6, 3, score_type="BOTH", decay=0.0)[:3] == [0, 1, 2]


def test_decay_prefers_new_ngrams():
    # equal IFD: after the first pick, the near-duplicate is worth less than the different text
    scores = np.array([0.5, 0.5, 0.5], dtype=np.float32)
    targets = ["red apples grow on trees", "red apples grow on trees too", "blue whales swim"]
    order = update_order(scores, targets, 3, score_type="BOTH", decay=0.1)
    assert order == [1, 2, 0]


def test_tfidf_by_hand():
    # docs: "aa bb", "aa": n=2, df(aa)=2, df(bb)=df(aa bb)=1
    m = tfidf_matrix(["aa bb", "AA x"])
    assert m.terms == ["aa", "aa bb", "bb"]
    idf1 = math.log(3 / 2) + 1
    w = [1.0, idf1, idf1]   # aa idf = ln(3/3)+1 = 1
    norm = math.sqrt(sum(v * v for v in w))
    np.testing.assert_allclose(m.dense(), [[1 / norm, idf1 / norm, idf1 / norm], [1, 0, 0]])
    assert word_ngrams("A b cc dd ee") == ["cc", "dd", "ee", "cc dd", "dd ee", "cc dd ee"]


def test_incremental_greedy_on_a_larger_matrix():
    scores, targets = random_case(7, 300)
    scores = np.where(np.isnan(scores), 0.2, np.minimum(scores, 0.99)).astype(np.float32)
    picks = greedy_diversity(tfidf_matrix(targets), scores, 100, 0.1)
    assert picks == brute_force_update(scores, targets, 100, "BOTH", 0.1)[:100]


@pytest.mark.skipif(not TOOLS_PYTHON.exists(), reason="needs .venv-tools (scikit-learn)")
def test_tfidf_is_bit_identical_to_scikit_learn():
    rng = random.Random(5)
    vocab = [*WORDS, "Über", "naïve", "42", "co-op", "x"]
    docs = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 30))) + "<|im_end|>"
            for _ in range(150)]
    code = ("import json, sys\nfrom sklearn.feature_extraction.text import TfidfVectorizer\n"
            "v = TfidfVectorizer(ngram_range=(1, 3)); x = v.fit_transform(json.load(sys.stdin))\n"
            "print(json.dumps({'terms': list(v.get_feature_names_out()), "
            "'dense': x.toarray().tolist()}))")
    out = subprocess.run([str(TOOLS_PYTHON), "-c", code], input=json.dumps(docs), text=True,
                         capture_output=True, check=True)
    ref = json.loads(out.stdout)
    mine = tfidf_matrix(docs)
    assert mine.terms == ref["terms"]
    assert np.array_equal(mine.dense(), np.array(ref["dense"]))
