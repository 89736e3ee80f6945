"""How selections of one pool differ: overlap, rank agreement, distributions, and their plots."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from workflow_lib.core.jsonio import DataError
from workflow_lib.report.selections import (
    Chosen,
    distribution_figure,
    distributions,
    jaccard,
    orderings,
    overlap,
    overlap_figure,
    rank_agreement,
    rank_figure,
    read_chosen,
)
from workflow_lib.report.tables import save_figure


def record(i: int, source: str) -> dict:
    return {"id": f"r{i}", "source": source, "meta": {},
            "conversations": [{"from": "human", "value": f"q{i}"},
                              {"from": "gpt", "value": "x" * (10 * i + 1)}]}


POOL = [record(i, "a" if i < 6 else "b") for i in range(8)]  # response lengths 1, 11, ..., 71
IDS = [r["id"] for r in POOL]


def score_rows(values):
    """Score rows as the gathered parquet holds them; None: not scored."""
    return [{"id": i, "ifd": v, "reason": None if v is not None else "too_long"}
            for i, v in zip(IDS, values, strict=True)]


def test_jaccard_of_known_sets():
    assert jaccard({"a", "b", "c"}, {"b", "c", "d"}) == 0.5
    assert jaccard(["a", "a", "b"], ["b", "a"]) == 1.0  # sets: a repeated pick counts once
    assert jaccard({"a"}, {"b"}) == 0.0
    assert math.isnan(jaccard([], []))


def test_overlap_per_budget_with_shared_counts():
    chosen = [Chosen("random", "random", "4", ("r0", "r1", "r2", "r3")),
              Chosen("longest", "longest", "4", ("r7", "r6", "r5", "r4")),
              Chosen("zip", "zip", "4", ("r2", "r3", "r4", "r4")),
              Chosen("full", "full", "all", tuple(IDS)),
              Chosen("random", "random", "2", ("r0", "r1"))]
    matrices = overlap(chosen)
    assert list(matrices) == ["4"]  # budgets "all" and "2" have one selection each
    m = matrices["4"]
    assert list(m.value.index) == ["random", "longest", "zip"]
    assert m.value.loc["random", "longest"] == 0.0
    assert m.value.loc["random", "zip"] == pytest.approx(2 / 5)
    assert m.value.loc["zip", "longest"] == pytest.approx(1 / 6)
    assert np.diag(m.value).tolist() == [1.0, 1.0, 1.0]
    assert m.n.loc["zip", "random"] == 2 and m.n.loc["zip", "zip"] == 3
    assert (m.value == m.value.T).all().all()


def test_overlap_of_one_method_is_empty_and_its_plot_says_so():
    assert overlap([Chosen("random", "random", "4", ("r0",))]) == {}
    (ax,) = overlap_figure({}, "demo").axes
    assert ax.texts[0].get_text() == "demo: no budget has two selections to compare"


def test_orderings_of_scores_lengths_and_pick_orders():
    chosen = [Chosen("sf", "superfiltering", "4", ("r0",), scorer="s1"),
              Chosen("sfd", "superfiltering_d", "4", ("r5", "r1"), scorer="s1"),
              Chosen("cherry", "cherry", "4", ("r0",), scorer="s2"),
              Chosen("longest", "longest", "4", ("r7",), length_unit="words"),
              Chosen("zip", "zip", "2", ("r6", "r2")),
              Chosen("zip", "zip", "3", ("r2", "r6", "r2", "r3")),
              Chosen("random", "random", "4", ("r1",))]
    scores = {"s1": score_rows([0.5, 0.9, None, 0.1, 1.2, 0.3, 0.7, 0.2]),
              "s2": score_rows([0.4] * 8)}
    found = orderings(chosen, POOL, scores)
    assert list(found) == ["IFD (s1)", "IFD (s2)", "response words", "sfd pick order (4)",
                           "zip pick order (3)"]
    s1 = found["IFD (s1)"]
    assert "r2" not in s1.index and s1["r4"] == 1.2 and len(s1) == 7  # unscored left out
    assert found["response words"].tolist() == [1.0] * 8
    # ZIP's largest budget; its repeated pick keeps its first place; first pick ranks highest.
    assert found["zip pick order (3)"].to_dict() == {"r2": 3.0, "r6": 2.0, "r3": 1.0}
    assert found["sfd pick order (4)"].to_dict() == {"r5": 2.0, "r1": 1.0}


def test_orderings_without_the_scores_a_method_ranks_by_say_which():
    chosen = [Chosen("sf", "superfiltering", "4", ("r0",), scorer="s1")]
    with pytest.raises(ValueError, match="sf @ 4 ranks by the IFD scores of 's1', which are "
                                         r"missing \(given: none\)"):
        orderings(chosen, POOL, {})


def test_rank_agreement_of_known_ranks():
    a = pd.Series([1.0, 2, 3, 4, 5], ["r0", "r1", "r2", "r3", "r4"])
    found = {"a": a, "b": pd.Series([2.0, 1, 4, 3, 5], a.index),  # rho = 1 - 6·4/(5·24) = 0.8
             "reversed": -a, "picks": pd.Series([3.0, 2, 1], ["r4", "r0", "r2"]),
             "few": pd.Series([1.0, 2], ["r0", "r9"]),
             "flat": pd.Series([7.0] * 5, a.index)}
    m = rank_agreement(found)
    assert m.value.loc["a", "b"] == pytest.approx(0.8)
    assert m.value.loc["a", "reversed"] == pytest.approx(-1.0)
    # over r0, r2, r4: picks order them r4 > r0 > r2, a r4 > r2 > r0: rho = 1 - 6·2/(3·8)
    assert m.value.loc["a", "picks"] == pytest.approx(0.5)
    assert m.n.loc["a", "picks"] == 3 and m.n.loc["picks", "picks"] == 3
    assert math.isnan(m.value.loc["a", "few"]) and m.n.loc["few", "a"] == 1  # one common id
    assert math.isnan(m.value.loc["a", "flat"]) and m.n.loc["a", "flat"] == 5
    assert np.diag(m.value).tolist() == [1.0] * 6
    assert m.value.equals(m.value.T)


def test_rank_plot_needs_two_orderings_and_marks_missing_rho(tmp_path):
    (ax,) = rank_figure(rank_agreement({"IFD (s1)": pd.Series([1.0], ["r0"])}), "demo").axes
    assert "fewer than two methods order the pool" in ax.texts[0].get_text()
    found = {"a": pd.Series([1.0, 2, 3], ["r0", "r1", "r2"]),
             "b": pd.Series([3.0, 1, 2], ["r0", "r1", "r2"]), "c": pd.Series([1.0], ["r0"])}
    fig = rank_figure(rank_agreement(found), "demo")
    heat, colorbar = fig.axes
    texts = [t.get_text() for t in heat.texts]
    assert "-0.50\nn=3" in texts and "n=1\nno ρ" in texts and "+1.00\nn=3" in texts
    assert colorbar.get_ylabel() == "Spearman ρ"
    save_figure(fig, tmp_path / "rank.png")
    assert (tmp_path / "rank.png").read_bytes()[:4] == b"\x89PNG"


def test_overlap_plot_has_a_labelled_panel_per_budget_and_a_colour_bar(tmp_path):
    chosen = [Chosen("random", "random", b, ids) for b, ids in
              (("2", ("r0", "r1")), ("4", ("r0", "r1", "r2", "r3")))]
    chosen += [Chosen("longest", "longest", b, ids) for b, ids in
               (("2", ("r7", "r1")), ("4", ("r7", "r6", "r5", "r4")))]
    fig = overlap_figure(overlap(chosen), "demo")
    two, four, colorbar = fig.axes
    assert two.get_title() == "budget 2" and four.get_title() == "budget 4"
    assert [t.get_text() for t in two.texts] == ["1.00\n(2)", "0.33\n(1)", "0.33\n(1)",
                                                 "1.00\n(2)"]
    assert [t.get_text() for t in two.get_yticklabels()] == ["random", "longest"]
    assert "Jaccard" in colorbar.get_ylabel()
    save_figure(fig, tmp_path / "overlap.png", tmp_path / "overlap.svg")
    assert (tmp_path / "overlap.png").stat().st_size > 10_000


def test_distributions_of_lengths_and_sources(tmp_path):
    chosen = [Chosen("longest", "longest", "2", ("r7", "r6")),
              Chosen("zip", "zip", "2", ("r0", "r0", "r7"))]
    lengths, shares = distributions(chosen, POOL)
    assert list(lengths) == ["pool (8)", "longest @ 2 (2)", "zip @ 2 (3)"]
    assert lengths["longest @ 2 (2)"] == [71, 61] and lengths["zip @ 2 (3)"] == [1, 1, 71]
    assert list(shares.columns) == ["a", "b"]  # by share in the pool
    assert shares.loc["pool (8)"].tolist() == [0.75, 0.25]
    assert shares.loc["zip @ 2 (3)"].tolist() == pytest.approx([2 / 3, 1 / 3])
    assert shares.loc["longest @ 2 (2)"].tolist() == [0.0, 1.0]
    _, capped = distributions(chosen, [record(i, f"s{i % 4}") for i in range(8)], max_sources=3)
    assert list(capped.columns) == ["s0", "s1", "other"]
    assert capped.loc["pool (8)"].tolist() == [0.25, 0.25, 0.5]
    fig = distribution_figure(lengths, shares, "demo")
    box, bars = fig.axes
    assert [t.get_text() for t in box.get_yticklabels()] == list(lengths)
    assert [t.get_text() for t in bars.get_legend().get_texts()] == ["a", "b"]
    assert "75%" in [t.get_text() for t in bars.texts]
    save_figure(fig, tmp_path / "dist.png")
    assert (tmp_path / "dist.png").stat().st_size > 10_000


def test_a_selection_outside_the_pool_names_its_manifest():
    with pytest.raises(DataError, match=r"m\.json: selected 'x9', which is not in the pool"):
        distributions([Chosen("zip", "zip", "2", ("r0", "x9"), manifest="m.json")], POOL)


def test_read_chosen_groups_manifests_by_pool(tmp_path):
    docs = [{"pool": "p", "method": "sf", "budget": 0.25, "selected_ids": ["r1"],
             "params": {"kind": "superfiltering", "scorer": "s1"}, "scorer": {"name": "s1"}},
            {"pool": "q", "method": "lw", "budget": 3, "selected_ids": ["r0"],
             "params": {"kind": "longest", "length": "words"}}]
    paths = []
    for i, doc in enumerate(docs):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(doc))
    pools = read_chosen(paths)
    assert pools == {"p": [Chosen("sf", "superfiltering", "0.25", ("r1",), "s1", "chars",
                                  str(paths[0]))],
                     "q": [Chosen("lw", "longest", "3", ("r0",), None, "words", str(paths[1]))]}
    del docs[0]["params"]
    paths[0].write_text(json.dumps(docs[0]))
    with pytest.raises(DataError, match="field 'params': missing; rerun the selection"):
        read_chosen(paths)
