"""Pairwise judging (Superfiltering / Cherry LLM): the win/tie/lose rule on every combination of
the two orders, the winning score, the prompts byte for byte, verdict parsing, answer generation
and extraction, the test sets (real files when ../shared is there, the demo set always), and
judging through the shared client and cache against the local judge server (both orders sent,
unparsable verdicts retried then failed, a judge dying mid-run then a resume, the API key never
written)."""

from __future__ import annotations

import functools
import json
import logging
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support import SHARED
from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import DataError, write_jsonl
from workflow_lib.evaluate.judge.cache import JudgmentCache
from workflow_lib.evaluate.judge.client import Endpoint, JudgeUnavailable
from workflow_lib.evaluate.judge.server import LocalJudge, deterministic_verdict
from workflow_lib.evaluate.pairwise import testsets
from workflow_lib.evaluate.pairwise.answers import alpaca_prompt, extract_answer
from workflow_lib.evaluate.pairwise.demo import RECORDS, write_demo_data
from workflow_lib.evaluate.pairwise.judge import (
    PairItem,
    judge_messages,
    judge_pair_run,
    judge_pairs,
    load_answers,
    pair_items,
    parse_scores,
)
from workflow_lib.evaluate.pairwise.score import (
    Counts,
    count_outcomes,
    outcome,
    pairwise_metrics,
    winning_score,
)
from workflow_lib.evaluate.pairwise.testsets import (
    TESTSETS,
    Question,
    fetch_testsets,
    load_testset,
    load_testsets,
)
from workflow_lib.models.tiny import build_tiny_model, synthetic_texts

SHARED_SETS = SHARED / "data" / "eval" / "pairwise"
JUDGE = {"kind": "local", "base_url": None, "model": "gpt-4", "api_key_env": None,
         "temperature": 0, "max_tokens": 1024, "unparsable_retries": 2, "parallel": 2,
         "timeout_s": 10, "max_retries": 2, "retry_wait_s": 0.01}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return write_demo_data(tmp_path_factory.mktemp("pairwise"))


@pytest.fixture(scope="module")
def questions(demo) -> list[Question]:
    return load_testsets(demo)


@pytest.fixture
def items(questions) -> list[PairItem]:
    """A's answers have more distinct words than B's, except one question where they are equal."""
    a = {(q.set, q.question_id): f"A long answer to {q.instruction} with several extra words"
         for q in questions}
    b = {(q.set, q.question_id): "Short." for q in questions}
    b["vicuna", "1"] = a["vicuna", "1"]
    return pair_items(questions, a, b)


def endpoint(server: LocalJudge, **kw) -> Endpoint:
    return Endpoint(server.base_url, "gpt-4", **{"max_retries": 2, "retry_wait_s": 0.01, **kw})


# --- the rule and the score ----------------------------------------------------------------------

SCORES = {">": (7.0, 4.0), "=": (5.0, 5.0), "<": (3.0, 8.0)}  # (A, B) for each relation
RULE = {  # the reference's rule: (first order, reversed order) relation of A to B -> A's outcome
    (">", ">"): "win", ("=", ">"): "win", (">", "="): "win",
    ("<", "<"): "lose", ("=", "<"): "lose", ("<", "="): "lose",
    (">", "<"): "tie", ("<", ">"): "tie", ("=", "="): "tie"}


@pytest.mark.parametrize(("first", "reversed_"), sorted(RULE))
def test_win_tie_lose_rule_on_every_combination_of_the_two_orders(first, reversed_):
    s_a, s_b = SCORES[first]
    r_a, r_b = SCORES[reversed_]
    # the reversed judgment presents B as Assistant 1: its verdict reads [B, A]
    assert outcome([s_a, s_b], [r_b, r_a]) == RULE[first, reversed_]


def test_an_unparsable_order_is_a_failure_not_a_score():
    assert outcome(None, [5.0, 5.0]) == outcome([5.0, 5.0], None) == "failed"


def records(set_name: str, win: int, tie: int, lose: int, failed: int = 0) -> list[dict]:
    return [{"set": set_name, "outcome": o} for o, k in
            (("win", win), ("tie", tie), ("lose", lose), ("failed", failed)) for _ in range(k)]


def test_winning_score_per_set_and_over_all_sets():
    judged = records("vicuna", 5, 3, 2) + records("koala", 1, 0, 3, failed=1) + \
        records("lima", 0, 0, 0, failed=2)
    per_set = count_outcomes(judged)
    assert per_set == {"vicuna": Counts(5, 3, 2), "koala": Counts(1, 0, 3, 1),
                       "lima": Counts(0, 0, 0, 2)}
    assert winning_score(per_set["vicuna"]) == pytest.approx(1.3)  # (5 - 2) / 10 + 1
    assert winning_score(per_set["koala"]) == pytest.approx(0.5)  # (1 - 3) / 4 + 1
    assert winning_score(per_set["lima"]) is None
    rows = {(r["benchmark"], r["metric"]): r
            for r in pairwise_metrics("sel", "full", judged)["metrics"]}
    # over all sets: (6 - 5) / 14 + 1, failures counted apart
    assert rows["pairwise_vs_full", "winning_score"] == {
        "benchmark": "pairwise_vs_full", "metric": "winning_score", "value": pytest.approx(
            1 + 1 / 14), "stderr": None, "n": 14, "higher_is_better": True}
    assert [rows["pairwise_vs_full", m]["value"] for m in ("win", "tie", "lose", "failed")] == \
        [6, 3, 5, 3]
    assert rows["pairwise_vs_full", "failed"]["n"] == 17
    assert rows["pairwise_vs_full/koala", "winning_score"]["value"] == pytest.approx(0.5)
    assert rows["pairwise_vs_full/lima", "failed"]["value"] == 2
    assert ("pairwise_vs_full/lima", "winning_score") not in rows
    assert {m: r["higher_is_better"] for (b, m), r in rows.items() if b == "pairwise_vs_full"} \
        == {"win": True, "tie": False, "lose": False, "failed": False, "winning_score": True}
    with pytest.raises(UserError, match="none of the 2 questions got parsable verdicts"):
        pairwise_metrics("sel", "full", records("lima", 0, 0, 0, failed=2))


# --- prompts and parsing -------------------------------------------------------------------------

def test_judge_prompt_is_the_references_byte_for_byte():
    system, user = judge_messages("Why?", "Because.", "No idea.\nReally.")
    assert system == {"role": "system", "content": "You are a helpful and precise assistant for "
                                                   "checking the quality of the answer."}
    assert user == {"role": "user", "content": (
        "[Question]\nWhy?\n\n[The Start of Assistant 1's Answer]\nBecause.\n\n[The End of "
        "Assistant 1's Answer]\n\n[The Start of Assistant 2's Answer]\nNo idea.\nReally.\n\n[The "
        "End of Assistant 2's Answer]\n\n[System]\nWe would like to request your feedback on the "
        "performance of two AI assistants in response to the user question displayed above.\n"
        "Please rate the helpfulness, relevance, accuracy, level of details of their responses. "
        "Each assistant receives an overall score on a scale of 1 to 10, where a higher score "
        "indicates better overall performance.\nPlease first output a single line containing "
        "only two values indicating the scores for Assistant 1 and 2, respectively. The two "
        "scores are separated by a space. In the subsequent line, please provide a comprehensive "
        "explanation of your evaluation, avoiding any potential bias and ensuring that the order "
        "in which the responses were presented does not affect your judgment.\n\n")}
    # braces in the texts are not format fields
    assert "{x}" in judge_messages("{x}", "{answer_2}", "b")[1]["content"]


def test_alpaca_prompts_are_the_references_byte_for_byte():
    plain = Question("vicuna", "1", "Name a colour.", "")
    with_input = Question("sinstruct", "t", "Add them.", "1, 2")
    assert alpaca_prompt(plain) == (
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\nName a colour.\n\n### Response:")
    assert alpaca_prompt(with_input) == (
        "Below is an instruction that describes a task, paired with an input that provides "
        "further context. Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nAdd them.\n\n### Input:\n1, 2\n\n### Response:")


@pytest.mark.parametrize(("review", "scores"), [
    ("8 9\nAssistant 2 is more detailed.", [8.0, 9.0]), ("7.5 6", [7.5, 6.0]),
    ("8,9\n", [8.0, 9.0]), ("10 1", [10.0, 1.0]),
    ("8, 9", None),  # comma and space: three parts after the replacement, as in the reference
    ("8 9 ", None), ("Scores: 8 9", None), ("8", None), ("", None), ("\n8 9", None),
    ("nan 3", None), ("eight nine", None)])
def test_scores_are_parsed_from_the_first_line_as_the_reference_does(review, scores):
    assert parse_scores(review) == scores


def test_the_stand_in_judge_scores_both_answers_and_swaps_with_the_order():
    item = PairItem("vicuna", "1", "Q?", "one two three four five six", "one")
    first = deterministic_verdict(item.messages(False)[1]["content"])
    second = deterministic_verdict(item.messages(True)[1]["content"])
    assert parse_scores(first) == list(reversed(parse_scores(second)))
    assert "stand-in" in first and "not a quality judgment" in first
    assert parse_scores(deterministic_verdict(item.messages(False)[1]["content"],
                                              rating=False)) is None


def test_answer_is_the_text_after_response():
    prompt = alpaca_prompt(Question("vicuna", "1", "Hi?", ""))
    assert extract_answer(prompt + " Hello.\nBye.", prompt) == " Hello.\nBye."
    assert extract_answer(prompt, prompt) == ""
    tricky = alpaca_prompt(Question("koala", "k", "Start with 'Response:' please.", ""))
    assert extract_answer(tricky + " Response: ok", tricky) == " Response: ok"
    with pytest.raises(ValueError, match="does not round-trip"):
        extract_answer("### Reply: x", prompt)


# --- answers from a tiny model -------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", synthetic_texts())


def test_greedy_answers_keep_the_length_budget_and_do_not_depend_on_the_batch(tiny, questions):
    from transformers import AutoTokenizer

    from workflow_lib.evaluate.pairwise.answers import generate_answers

    chosen = [q for q in questions if (q.set, q.question_id) in (("sinstruct",
                                                                  "user_oriented_task_1"),
                                                                 ("lima", "0"))]
    assert chosen[0].input  # the with-input prompt
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    lengths = [len(tokenizer(alpaca_prompt(q))["input_ids"]) for q in chosen]
    assert lengths[0] != lengths[1]
    max_length = max(lengths) + 6
    batched = generate_answers(tiny, chosen, "r", max_length=max_length, batch_size=2,
                               progress=False)
    alone = generate_answers(tiny, chosen, "r", max_length=max_length, batch_size=1,
                             progress=False)
    assert batched == alone
    for record, length in zip(batched, lengths, strict=True):
        assert record["new_tokens"] <= max_length - length
        assert set(record) == {"set", "question_id", "run", "template", "max_length", "answer",
                               "new_tokens"}
    # the longer prompt's answer uses its full budget here (the random model never ends early)
    assert [r["new_tokens"] for r in batched] == [max_length - n for n in lengths]
    full = generate_answers(tiny, chosen[:1], "r", max_length=lengths[0], progress=False)
    assert full[0]["new_tokens"] <= 1  # a prompt that fills max_length gets one token at most


def test_chat_template_is_a_stated_option(tiny, questions, tmp_path):
    from workflow_lib.evaluate.pairwise.answers import generate_answers

    chat = generate_answers(tiny, questions[:1], "r", template="chat", max_length=40,
                            progress=False)
    assert chat[0]["template"] == "chat" and chat[0]["answer"] == chat[0]["answer"].strip()
    bare = tmp_path / "no-template"
    shutil.copytree(tiny, bare)
    config = json.loads((bare / "tokenizer_config.json").read_text())
    del config["chat_template"]
    (bare / "tokenizer_config.json").write_text(json.dumps(config))
    assert generate_answers(bare, questions[:1], "r", max_length=140, progress=False)
    with pytest.raises(UserError, match="no chat template"):
        generate_answers(bare, questions[:1], "r", template="chat", progress=False)
    with pytest.raises(ValueError, match="template must be one of"):
        generate_answers(tiny, questions[:1], "r", template="vicuna", progress=False)


# --- test sets -----------------------------------------------------------------------------------

def test_demo_sets_have_the_five_formats(demo, questions):
    assert [q.set for q in questions] == [name for name in TESTSETS for _ in range(3)]
    with_input = [q for q in questions if q.input]
    assert [q.set for q in with_input] == ["sinstruct", "sinstruct"]
    assert [q.question_id for q in questions if q.set == "lima"] == ["0", "1", "2"]
    assert questions[0] == Question("vicuna", "1", RECORDS["vicuna"][0]["text"], "")
    assert len(load_testsets(demo, ["koala", "lima"], per_set=2)) == 4
    with pytest.raises(UserError, match="unknown pairwise test set 'alpaca'"):
        load_testsets(demo, ["alpaca"])


def test_bad_records_are_named(tmp_path):
    path = tmp_path / "sinstruct.jsonl"
    path.write_text(json.dumps({"id": "t0", "instruction": "x", "instances": [
        {"input": "", "output": ""}, {"input": "", "output": ""}]}) + "\n")
    with pytest.raises(DataError, match=r"sinstruct.jsonl:1: record 't0'.*instances.*exactly one"):
        load_testset(path, "sinstruct")
    path.write_text(json.dumps({"question_id": 1, "text": 5}) + "\n")
    with pytest.raises(DataError, match=r"record '1'.*text.*expected str, got int"):
        load_testset(path, "vicuna")
    path.write_text(json.dumps({"id": "k", "prompt": "a"}) + "\n" +
                    json.dumps({"id": "k", "prompt": "b"}) + "\n")
    with pytest.raises(DataError, match=r":2: record 'k': duplicate question id"):
        load_testset(path, "koala")


@pytest.mark.skipif(not SHARED_SETS.is_dir(), reason="../shared/data/eval/pairwise absent")
def test_real_sets_pass_the_pinned_sha256_and_load(tmp_path):
    fetched = fetch_testsets(tmp_path, SHARED_SETS)
    assert {f["sha256"] for f in fetched.values()} == {s.sha256 for s in TESTSETS.values()}
    loaded = load_testsets(tmp_path)
    for name, spec in TESTSETS.items():
        assert sum(q.set == name for q in loaded) == spec.records
    assert sum(bool(q.input) for q in loaded) == 208  # Self-instruct records with an input
    assert all(q.instruction for q in loaded)
    assert len(load_testsets(tmp_path, per_set=2)) == 10


def test_local_and_downloaded_sets_are_checked_against_the_pinned_sha256(demo, tmp_path,
                                                                         monkeypatch):
    with pytest.raises(UserError, match=r"vicuna_test_set.jsonl: sha256 \w+ differs from "
                                        r"Cherry_LLM 01fac8d"):
        fetch_testsets(tmp_path / "a", demo)
    assert set(fetch_testsets(tmp_path / "b", demo, check_sha256=False)) == \
        {s.file for s in TESTSETS.values()}
    with pytest.raises(UserError, match="pairwise test set file missing"):
        fetch_testsets(tmp_path / "c", tmp_path / "nowhere")
    served = tmp_path / "repo" / testsets.CHERRY_COMMIT / "evaluation" / "test_data"
    write_demo_data(served)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "repo"))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(testsets, "RAW_URL", f"http://127.0.0.1:{server.server_address[1]}/"
                                             "{commit}/evaluation/test_data/{file}")
    try:
        with pytest.raises(UserError, match=r"127.0.0.1.*vicuna_test_set.jsonl: sha256 \w+ "
                                            r"differs"):
            fetch_testsets(tmp_path / "d", check_sha256=False)  # downloads: always checked
        assert not (tmp_path / "d" / "vicuna_test_set.jsonl").exists()
    finally:
        server.shutdown()
        server.server_close()


# --- judging through the shared client and cache -------------------------------------------------

def test_both_orders_are_sent_for_every_question(items, tmp_path):
    with LocalJudge() as server:
        judged = judge_pairs(items, endpoint(server), JudgmentCache(tmp_path / "c.jsonl"),
                             parallel=3, progress=False)
    assert len(server.requests) == 2 * len(items)  # equal answers too (vicuna 1)
    sent = {}
    for body in server.requests:
        assert (body["temperature"], body["max_tokens"], body["model"]) == (0.0, 1024, "gpt-4")
        assert body["messages"][0]["content"].startswith("You are a helpful and precise")
        user = body["messages"][1]["content"]
        sent.setdefault(user, 0)
        sent[user] += 1
    for item in items:
        first, second = (item.messages(r)[1]["content"] for r in (False, True))
        assert first in sent and second in sent
        assert item.question in first and item.answer_a in first
    assert [(r["set"], r["question_id"]) for r in judged] == [(i.set, i.question_id)
                                                              for i in items]
    by_id = {(r["set"], r["question_id"]): r for r in judged}
    equal = by_id.pop(("vicuna", "1"))
    assert equal["outcome"] == "tie" and equal["new_calls"] == 2
    assert {r["outcome"] for r in by_id.values()} == {"win"}
    assert all(r["scores"] == list(reversed(r["scores_reverse"])) for r in by_id.values())


def test_a_question_repeated_across_sets_is_judged_once_per_record(items, tmp_path):
    """As the reference's eval.py: a question that reappears (Vicuna's in LIMA, a record twice
    in WizardLM) is a call per record and order, not one cached verdict shared; a rerun pays
    nothing."""
    vicuna = next(i for i in items if i.set == "vicuna" and i.answer_a != i.answer_b)
    repeated = [vicuna, PairItem("lima", "7", vicuna.question, vicuna.answer_a, vicuna.answer_b),
                PairItem("lima", "8", vicuna.question, vicuna.answer_a, vicuna.answer_b)]
    cache = tmp_path / "c.jsonl"
    with LocalJudge() as server:
        judged = judge_pairs(repeated, endpoint(server), JudgmentCache(cache), progress=False)
    assert len(server.requests) == 2 * 3                    # 3 records × 2 orders
    assert len({json.dumps(b["messages"]) for b in server.requests}) == 2   # one prompt each
    assert [r["new_calls"] for r in judged] == [2, 2, 2]
    with LocalJudge() as server:
        again = judge_pairs(repeated, endpoint(server), JudgmentCache(cache), progress=False)
    assert not server.requests and [r["new_calls"] for r in again] == [0, 0, 0]


def test_unparsable_verdicts_are_retried_then_failures(items, tmp_path):
    cache_path = tmp_path / "cache.jsonl"
    with LocalJudge(no_rating=True) as server:
        judged = judge_pairs(items[:2], endpoint(server), JudgmentCache(cache_path),
                             unparsable_retries=2, progress=False)
    assert len(server.requests) == 2 * 2 * 3  # 2 questions x 2 orders x 3 attempts
    assert all(r["outcome"] == "failed" and r["attempts"] == [3, 3] for r in judged)
    assert all(r["scores"] is None and r["scores_reverse"] is None for r in judged)
    cached = [json.loads(line) for line in cache_path.read_text().splitlines()]
    assert len(cached) == 12 and all(c["scores"] is None for c in cached)
    with pytest.raises(UserError, match="none of the 2 questions"):
        pairwise_metrics("a", "b", judged)


def test_judge_dying_mid_run_then_resume_pays_only_for_the_missing_calls(items, tmp_path):
    cache_path = tmp_path / "cache.jsonl"
    with LocalJudge(die_after=5) as server, pytest.raises(JudgeUnavailable, match="refused"):
        judge_pairs(items, endpoint(server), JudgmentCache(cache_path), parallel=1,
                    progress=False)
    assert len(JudgmentCache(cache_path)) == 5
    with LocalJudge() as server:
        judged = judge_pairs(items, endpoint(server), JudgmentCache(cache_path), parallel=3,
                             progress=False)
    assert len(server.requests) == 2 * len(items) - 5
    assert sum(r["new_calls"] for r in judged) == len(server.requests)
    with LocalJudge() as server:  # a complete rerun pays nothing and gives the same records
        again = judge_pairs(items, endpoint(server), JudgmentCache(cache_path), progress=False)
    assert not server.requests
    assert [r["outcome"] for r in again] == [r["outcome"] for r in judged]
    with LocalJudge() as server:  # and equals a run that never died
        fresh = judge_pairs(items, endpoint(server), JudgmentCache(tmp_path / "fresh.jsonl"),
                            progress=False)
    assert [(r["scores"], r["scores_reverse"]) for r in fresh] == \
        [(r["scores"], r["scores_reverse"]) for r in judged]


def test_run_against_reference_from_answer_files_with_the_stand_in_judge(questions, tmp_path):
    for run, text in (("sel", "an answer with quite a few different words in it"),
                      ("full", "an answer")):
        write_jsonl(tmp_path / f"{run}.jsonl", [
            {"set": q.set, "question_id": q.question_id, "run": run, "template": "alpaca",
             "max_length": 1024, "answer": text, "new_tokens": 3} for q in questions])
    items = pair_items(questions, load_answers(tmp_path / "sel.jsonl"),
                       load_answers(tmp_path / "full.jsonl"))
    judged = judge_pair_run("sel", "full", items, JUDGE, tmp_path / "cache.jsonl",
                            progress=False)
    assert {(r["run"], r["reference"], r["outcome"]) for r in judged} == {("sel", "full", "win")}
    metrics = pairwise_metrics("sel", "full", judged)
    rows = {(r["benchmark"], r["metric"]): r["value"] for r in metrics["metrics"]}
    assert rows["pairwise_vs_full", "winning_score"] == 2.0
    assert rows["pairwise_vs_full/sinstruct", "win"] == 3
    assert metrics["evaluator"] == "pairwise" and len(metrics["metrics"]) == 6 * 5
    with pytest.raises(DataError, match=r"full.jsonl: no answer to vicuna question 1"):
        pair_items(questions, load_answers(tmp_path / "sel.jsonl"), {},
                   files=("sel.jsonl", "full.jsonl"))


def test_api_key_is_sent_but_never_written_or_logged(items, tmp_path, monkeypatch, caplog):
    secret = "sk-test-pairwise-0123456789"
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SIEVE_TEST_JUDGE_KEY", secret)
    with LocalJudge(api_key=secret, fail_first=2) as server:  # the 2 failures are logged
        judge = {**JUDGE, "kind": "openai", "base_url": server.base_url,
                 "api_key_env": "SIEVE_TEST_JUDGE_KEY"}
        judged = judge_pair_run("a", "b", items[:2], judge, tmp_path / "cache.jsonl",
                                progress=False)
    assert all(r["outcome"] != "failed" for r in judged)
    write_jsonl(tmp_path / "judgments.jsonl", judged)
    for path in tmp_path.iterdir():
        assert secret not in path.read_text()
    assert "retry" in caplog.text and secret not in caplog.text
    monkeypatch.delenv("SIEVE_TEST_JUDGE_KEY")
    with pytest.raises(UserError, match=r"eval.pairwise.judge.api_key_env: .*KEY is not set"):
        judge_pair_run("a", "b", items[:2], judge, tmp_path / "cache.jsonl", progress=False)
