"""MT-bench: FastChat compatibility of answers and judge prompts, rating parsing, the judge client
against the local judge server (errors, retries, timeouts, a server dying mid-run, API key
redaction), the judgment cache (resume), scores, and the data fetch with sha256 checks."""

from __future__ import annotations

import functools
import json
import logging
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support import ROOT, TOOLS_PYTHON
from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import DataError, read_jsonl, write_jsonl
from workflow_lib.evaluate.judge.cache import JudgmentCache
from workflow_lib.evaluate.judge.client import Endpoint, JudgeUnavailable, chat_completion
from workflow_lib.evaluate.judge.server import LocalJudge, deterministic_verdict
from workflow_lib.evaluate.mtbench import questions as mtbench
from workflow_lib.evaluate.mtbench.demo import QUESTIONS, REFERENCES, write_demo_data
from workflow_lib.evaluate.mtbench.judge import judge_answers, judge_run
from workflow_lib.evaluate.mtbench.questions import (
    judge_items,
    load_answers,
    load_judge_prompts,
    load_questions,
    mtbench_metrics,
    parse_rating,
    subset_questions,
)
from workflow_lib.models.identity import model_identity
from workflow_lib.models.tiny import build_tiny_model, synthetic_texts

SHARED = ROOT.parent / "shared" / "data" / "mt_bench"
JUDGE = {"kind": "local", "base_url": None, "model": "gpt-4", "api_key_env": None, "n": 1,
         "temperature": 0, "max_tokens": 2048, "unparsable_retries": 2, "parallel": 2,
         "timeout_s": 10, "max_retries": 2, "retry_wait_s": 0.01}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_demo_data(tmp_path_factory.mktemp("mtbench"))


@pytest.fixture(scope="module")
def answers_file(tmp_path_factory, data) -> Path:
    """Real answers of a tiny local model, through the generation code, with their manifest
    in `answers.manifest.json` beside `model_answer/`."""
    from workflow_lib.evaluate.mtbench.answers import generate_answers, write_answers

    root = tmp_path_factory.mktemp("answers")
    model = build_tiny_model(root / "tiny", synthetic_texts())
    generation = {"max_new_tokens": 12, "batch_size": 3}
    records = generate_answers(model, load_questions(data / "question.jsonl"), "tiny-run",
                               progress=False, **generation)
    path = root / "model_answer" / "tiny-run.jsonl"
    write_answers(path, root / "answers.manifest.json", records, run="tiny-run", model_dir=model,
                  questions=data / "question.jsonl", generation=generation)
    return path


@pytest.fixture(scope="module")
def items(data, answers_file) -> list[mtbench.JudgeItem]:
    return judge_items(load_questions(data / "question.jsonl"), load_answers(answers_file),
                       load_answers(data / "reference_answer" / "gpt-4.jsonl"),
                       load_judge_prompts(data / "judge_prompts.jsonl"))


def endpoint(server: LocalJudge, **kw) -> Endpoint:
    return Endpoint(server.base_url, "gpt-4", **{"max_retries": 2, "retry_wait_s": 0.01, **kw})


# --- answers and prompts -------------------------------------------------------------------------

def test_answers_have_fastchats_format_and_two_turns(answers_file):
    records = [r for _, r in read_jsonl(answers_file)]
    assert [r["question_id"] for r in records] == [q["question_id"] for q in QUESTIONS]
    for r in records:
        assert set(r) == {"question_id", "answer_id", "model_id", "choices", "tstamp"}
        assert r["model_id"] == "tiny-run" and len(r["choices"]) == 1
        assert r["choices"][0]["index"] == 0 and len(r["choices"][0]["turns"]) == 2


def test_answers_manifest_names_the_model_and_the_settings(answers_file):
    manifest = json.loads((answers_file.parents[1] / "answers.manifest.json").read_text())
    model = answers_file.parents[1] / "tiny"
    assert manifest["model"] == model_identity(model)
    assert manifest["generation"] == {"max_new_tokens": 12, "batch_size": 3}
    assert manifest["run"] == "tiny-run" and manifest["n_answers"] == len(QUESTIONS)
    assert set(manifest["inputs"]) == {"questions"} and "version" in manifest["sieve"]


def test_greedy_categories_are_reproducible(tmp_path, data, answers_file):
    from workflow_lib.evaluate.mtbench.answers import generate_answers

    model = build_tiny_model(tmp_path / "tiny", synthetic_texts())
    math = [q for q in QUESTIONS if q["category"] in ("math", "coding")]
    again = generate_answers(model, math, "tiny-run", max_new_tokens=12, batch_size=1,
                             progress=False)
    first = load_answers(answers_file)
    # greedy (temperature 0): the same text alone as in a batch of three with padding
    assert [a["choices"][0]["turns"] for a in again] == [first[q["question_id"]] for q in math]


def test_reference_guided_prompts_and_multi_turn_prompts(items, answers_file):
    answers = load_answers(answers_file)
    by_key = {(i.question_id, i.turn): i for i in items}
    assert len(items) == 2 * len(QUESTIONS)
    for q in QUESTIONS:
        qid, ref_based = q["question_id"], q["category"] in ("math", "reasoning", "coding")
        first, second = by_key[qid, 1], by_key[qid, 2]
        assert first.prompt_name == ("single-math-v1" if ref_based else "single-v1")
        assert second.prompt_name == ("single-math-v1-multi-turn" if ref_based
                                      else "single-v1-multi-turn")
        assert answers[qid][0] in first.user and q["turns"][1] not in first.user
        for text in (*q["turns"], *answers[qid]):
            assert text in second.user
        if ref_based:
            assert REFERENCES[qid][0] in first.user
            assert all(ref in second.user for ref in REFERENCES[qid])
        assert first.messages()[0] == {"role": "system", "content": first.system}


def test_missing_reference_or_answer_is_named(data, answers_file):
    questions = load_questions(data / "question.jsonl")
    prompts = load_judge_prompts(data / "judge_prompts.jsonl")
    with pytest.raises(DataError, match=r"record '111'.*no reference answer for this math"):
        judge_items(questions, load_answers(answers_file), {}, prompts)
    with pytest.raises(DataError, match=r"answers.jsonl: record '82': no answer"):
        judge_items(questions, {81: ["a", "b"]}, REFERENCES, prompts, answer_file="answers.jsonl")


FASTCHAT_CHECK = """
import json, sys
import fastchat.llm_judge.common as common
from fastchat.llm_judge.gen_judgment import make_judge_single, make_match_single
data, answer_dir = sys.argv[1], sys.argv[2]
questions = common.load_questions(data + "/question.jsonl", None, None)
answers = common.load_model_answers(answer_dir)
refs = common.load_model_answers(data + "/reference_answer")
judges = make_judge_single("gpt-4", common.load_judge_prompts(data + "/judge_prompts.jsonl"))
models = list(answers)
common.check_data(questions, answers, refs, models, judges)
sent = []
def fake_completion(model, conv, temperature, max_tokens, api_dict=None):
    sent.append({"messages": conv.to_openai_api_messages(), "temperature": temperature,
                 "max_tokens": max_tokens})
    return "ok [[5]]"
common.chat_completion_openai = fake_completion
ref_q = [q for q in questions if q["category"] in common.NEED_REF_CATS]
plain_q = [q for q in questions if q["category"] not in common.NEED_REF_CATS]
out = []
for name, qs, kw in (("default", plain_q, {}), ("math", ref_q, {"ref_answers": refs}),
                     ("default-mt", plain_q, {"multi_turn": True}),
                     ("math-mt", ref_q, {"ref_answers": refs, "multi_turn": True})):
    for m in make_match_single(qs, models, answers, judges[name], **kw):
        score, user_prompt, _ = common.run_judge_single(m.question, m.answer, m.judge,
                                                       m.ref_answer, multi_turn=m.multi_turn)
        out.append({"question_id": m.question["question_id"], "turn": 2 if m.multi_turn else 1,
                    "prompt": m.judge.prompt_template["name"], "score": score, **sent[-1]})
import argparse, contextlib, io
from fastchat.llm_judge.show_result import display_result_single
shown = io.StringIO()
with contextlib.redirect_stdout(shown):
    display_result_single(argparse.Namespace(input_file=sys.argv[3], judge_model="gpt-4",
                                             model_list=None, bench_name="mt_bench"))
loaded = common.load_single_model_judgments(sys.argv[3])
print(json.dumps({"models": models, "judged": out, "average": shown.getvalue().split()[-1],
                  "loaded": {"/".join(k): len(v) for k, v in loaded.items()}}))
"""


@pytest.mark.slow
def test_fastchat_reads_the_answers_and_builds_the_same_judge_requests(data, answers_file, items,
                                                                      tmp_path):
    """FastChat's own loaders, check_data, make_match_single and run_judge_single (in the tools
    interpreter, where fschat lives) against our answer file and our judge requests; its
    show_result and judgment loader on our judgments file."""
    if not TOOLS_PYTHON.exists():
        pytest.skip(f"{TOOLS_PYTHON} missing (make tools)")
    probe = subprocess.run([str(TOOLS_PYTHON), "-c", "import fastchat.llm_judge.common"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("fschat 0.2.36 is not installed in the tools interpreter (envs/eval.yaml)")
    judged = judge_run("tiny-run", items, JUDGE, tmp_path / "cache.jsonl", progress=False)
    write_jsonl(tmp_path / "judgments.jsonl", judged)
    score = mtbench_metrics("tiny-run", judged, 1).to_json()["metrics"][0]
    proc = subprocess.run([str(TOOLS_PYTHON), "-c", FASTCHAT_CHECK, str(data),
                           str(answers_file.parent), str(tmp_path / "judgments.jsonl")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["models"] == ["tiny-run"]
    theirs = {(j["question_id"], j["turn"]): j for j in result["judged"]}
    assert len(theirs) == len(items)
    for item in items:
        fastchat = theirs[item.question_id, item.turn]
        assert fastchat["prompt"] == item.prompt_name
        assert fastchat["messages"] == item.messages()
        assert (fastchat["temperature"], fastchat["max_tokens"]) == (0, 2048)
        assert fastchat["score"] == 5 == parse_rating("ok [[5]]")
    assert score["metric"] == "score"
    assert float(result["average"]) == pytest.approx(score["value"], abs=1e-6)
    # three plain and three reference-guided questions, each judge prompt once per question
    assert result["loaded"] == {f"gpt-4/{name}": 3 for name in mtbench.JUDGE_PROMPTS.values()}


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/mt_bench (real files) absent")
def test_real_files_pass_the_pinned_sha256_and_give_160_items(tmp_path):
    fetched = mtbench.fetch_data(tmp_path, SHARED)
    assert {f["sha256"] for f in fetched.values()} == {s for _, s in mtbench.DATA_FILES.values()}
    questions = load_questions(tmp_path / "question.jsonl")
    answers = {q["question_id"]: ["a", "b"] for q in questions}
    found = judge_items(questions, answers, load_answers(tmp_path / "reference_answer/gpt-4.jsonl"),
                        load_judge_prompts(tmp_path / "judge_prompts.jsonl"))
    assert len(found) == 160
    assert sum(i.prompt_name.startswith("single-math") for i in found) == 60
    assert len(subset_questions(questions, 1)) == 8


# --- ratings and scores --------------------------------------------------------------------------

@pytest.mark.parametrize(("verdict", "rating"), [
    ("Good. Rating: [[7]]", 7.0), ("[[8.5]]", 8.5), ("rating [6] only", 6.0),
    ("[5] then [[3]]", 3.0), ("Rating: 7/10", None), ("[[seven]]", None), ("", None)])
def test_rating_is_parsed_as_fastchat_does(verdict, rating):
    assert parse_rating(verdict) == rating


def judgment(qid, turn, sample, score, category="writing"):
    return {"question_id": qid, "category": category, "turn": turn, "sample": sample,
            "score": score}


def test_scores_are_item_medians_with_spread_and_failures_never_scored():
    rows = [judgment(1, 1, 0, 8.0), judgment(1, 1, 1, 6.0), judgment(1, 1, 2, 7.0),
            judgment(1, 2, 0, 4.0), judgment(1, 2, 1, None), judgment(1, 2, 2, 2.0),
            judgment(2, 1, 0, None, "math"), judgment(2, 1, 1, None, "math"),
            judgment(2, 1, 2, None, "math"), judgment(2, 2, 0, 9.0, "math"),
            judgment(2, 2, 1, 9.0, "math"), judgment(2, 2, 2, 9.0, "math")]
    got = {(m["benchmark"], m["metric"]): m
           for m in mtbench_metrics("r", rows, 3).to_json()["metrics"]}
    # item medians: (1,1) 7, (1,2) 3, (2,2) 9; (2,1) failed in every sample
    assert got["mt_bench", "score"]["value"] == pytest.approx(19 / 3)
    assert got["mt_bench", "score"]["n"] == 3 and got["mt_bench", "score"]["stderr"] > 0
    assert got["mt_bench", "score_turn1"]["value"] == 7
    assert got["mt_bench", "score_turn2"]["value"] == 6
    assert got["mt_bench_writing", "score"]["value"] == 5
    assert got["mt_bench_math", "score"]["value"] == 9
    assert got["mt_bench", "failures"] == {"benchmark": "mt_bench", "metric": "failures",
                                          "value": 4.0, "stderr": None, "n": 12,
                                          "higher_is_better": False}
    # per-sample means: s0 (8+4+9)/3 = 7, s1 (6+9)/2 = 7.5, s2 (7+2+9)/3 = 6
    assert got["mt_bench", "judge_spread"]["value"] == pytest.approx(1.5)
    with pytest.raises(UserError, match="none of the 2 MT-bench judgments gave a rating"):
        mtbench_metrics("r", [judgment(1, 1, 0, None), judgment(1, 2, 0, None)], 1)


# --- the judge client against the local server ---------------------------------------------------

def test_local_judge_rates_the_graded_answer_deterministically(items):
    verdict = deterministic_verdict(items[1].user)
    assert verdict == deterministic_verdict(items[1].user) and parse_rating(verdict) is not None
    one = deterministic_verdict("[The Start of Assistant's Answer]\nyes\n[The End of Assistant's "
                                "Answer]")
    many = deterministic_verdict("[The Start of Assistant's Answer]\n" + " ".join(
        f"w{i}" for i in range(100)) + "\n[The End of Assistant's Answer]")
    assert parse_rating(one) == 1 and parse_rating(many) == 7


def test_http_errors_are_retried_then_succeed():
    with LocalJudge(fail_first=2, fail_status=503) as server:
        text = chat_completion(endpoint(server), [{"role": "user", "content": "x"}],
                               temperature=0, max_tokens=8)
    assert parse_rating(text) is not None and len(server.requests) == 3
    assert server.requests[0]["model"] == "gpt-4" and server.requests[0]["max_tokens"] == 8


def test_persistent_errors_and_timeouts_fail_after_bounded_retries():
    with LocalJudge(fail_first=10) as server, pytest.raises(JudgeUnavailable, match="HTTP 500"):
        chat_completion(endpoint(server), [{"role": "user", "content": "x"}], temperature=0,
                        max_tokens=8)
    assert len(server.requests) == 3
    with LocalJudge(delay_s=1.0) as server, pytest.raises(JudgeUnavailable, match="timed out"):
        chat_completion(endpoint(server, timeout_s=0.2, max_retries=1),
                        [{"role": "user", "content": "x"}], temperature=0, max_tokens=8)


def test_api_key_is_sent_but_never_shown(items, tmp_path, monkeypatch, caplog):
    secret = "sk-test-0123456789abcdef"
    caplog.set_level(logging.DEBUG)
    with LocalJudge(api_key="another-key") as server:
        with pytest.raises(JudgeUnavailable) as failure:
            chat_completion(endpoint(server, api_key=secret), [{"role": "user", "content": "x"}],
                            temperature=0, max_tokens=8)
        assert len(server.requests) == 1  # 401 is not retried
    assert "HTTP 401" in str(failure.value) and "Bearer ***" in str(failure.value)
    assert secret not in str(failure.value) and secret not in repr(endpoint(server,
                                                                             api_key=secret))
    monkeypatch.setenv("SIEVE_TEST_JUDGE_KEY", secret)
    with LocalJudge(api_key=secret, fail_first=2) as server:  # the 2 failures are logged
        judge = {**JUDGE, "kind": "openai", "base_url": server.base_url,
                 "api_key_env": "SIEVE_TEST_JUDGE_KEY"}
        judged = judge_run("r", items[:2], judge, tmp_path / "cache.jsonl", progress=False)
    assert [j["score"] is not None for j in judged] == [True, True]
    write_jsonl(tmp_path / "judgments.jsonl", judged)
    for path in tmp_path.iterdir():
        assert secret not in path.read_text()
    assert "retry" in caplog.text and secret not in caplog.text
    monkeypatch.delenv("SIEVE_TEST_JUDGE_KEY")
    with pytest.raises(UserError, match="SIEVE_TEST_JUDGE_KEY is not set"):
        judge_run("r", items[:2], judge, tmp_path / "cache.jsonl", progress=False)


def test_unparsable_verdicts_are_recorded_retried_then_failures(items, tmp_path):
    cache = JudgmentCache(tmp_path / "cache.jsonl")
    with LocalJudge(no_rating=True) as server:
        judged = judge_answers(items[:3], endpoint(server), cache, unparsable_retries=2,
                               progress=False)
    assert len(server.requests) == 9 and len(cache) == 9
    assert all(j["score"] is None and j["attempts"] == 3 for j in judged)
    recorded = [json.loads(line) for line in (tmp_path / "cache.jsonl").read_text().splitlines()]
    assert all(r["rating"] is None and "distinct words" in r["verdict"] for r in recorded)
    with pytest.raises(UserError, match="none of the 3"):
        mtbench_metrics("r", judged, 1)


def test_server_dying_mid_run_then_resume_pays_only_for_the_rest(items, tmp_path):
    cache_path = tmp_path / "cache.jsonl"
    with LocalJudge(die_after=5) as server, pytest.raises(JudgeUnavailable, match="refused"):
        judge_answers(items, endpoint(server), JudgmentCache(cache_path), n=2, parallel=1,
                      progress=False)
    assert len(JudgmentCache(cache_path)) == 5
    with LocalJudge() as server:
        judged = judge_answers(items, endpoint(server), JudgmentCache(cache_path), n=2,
                               parallel=3, progress=False)
    assert len(server.requests) == 2 * len(items) - 5
    assert [(j["question_id"], j["turn"], j["sample"]) for j in judged] == [
        (i.question_id, i.turn, s) for i in items for s in range(2)]
    assert sum(j["new_calls"] for j in judged) == len(server.requests)
    with LocalJudge() as server:  # a complete rerun pays nothing
        again = judge_answers(items, endpoint(server), JudgmentCache(cache_path), n=2,
                              progress=False)
    assert not server.requests and [j["score"] for j in again] == [j["score"] for j in judged]


def test_cache_drops_a_torn_last_line_and_rejects_bad_lines(tmp_path):
    path = tmp_path / "cache.jsonl"
    entry = {"key": "k", "sample": 0, "attempt": 0, "verdict": "[[3]]", "rating": 3.0}
    path.write_text(json.dumps(entry) + "\n" + '{"key": "k2", "sam')
    assert len(JudgmentCache(path)) == 1 and path.read_text() == json.dumps(entry) + "\n"
    path.write_text(json.dumps(entry) + "\n[1, 2]\n")
    with pytest.raises(DataError, match=r"cache.jsonl:2: bad cache entry"):
        JudgmentCache(path)


# --- data ----------------------------------------------------------------------------------------

def test_local_files_are_checked_against_the_pinned_sha256(data, tmp_path):
    with pytest.raises(UserError, match=r"question.jsonl: sha256 \w+ differs from FastChat"):
        mtbench.fetch_data(tmp_path / "a", data)
    assert not (tmp_path / "a" / "question.jsonl").exists()
    fetched = mtbench.fetch_data(tmp_path / "b", data, check_sha256=False)
    assert set(fetched) == set(mtbench.DATA_FILES)
    assert (tmp_path / "b" / "judge_prompts.jsonl").read_bytes() == \
        (data / "judge_prompts.jsonl").read_bytes()
    with pytest.raises(UserError, match="MT-bench file missing"):
        mtbench.fetch_data(tmp_path / "c", tmp_path / "nowhere")


def test_download_is_checked_against_the_pinned_sha256(data, tmp_path, monkeypatch):
    """The download path against a loopback HTTP server laid out like the FastChat repository."""
    repo = tmp_path / "repo" / mtbench.FASTCHAT_COMMIT / "fastchat" / "llm_judge" / "data"
    write_demo_data(repo / "mt_bench")
    (repo / "mt_bench" / "judge_prompts.jsonl").rename(repo / "judge_prompts.jsonl")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "repo"))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(mtbench, "RAW_URL",
                        f"http://127.0.0.1:{server.server_address[1]}/{{commit}}/{{path}}")
    try:
        with pytest.raises(UserError, match=r"127.0.0.1.*question.jsonl: sha256 \w+ differs"):
            mtbench.fetch_data(tmp_path / "out", check_sha256=False)  # downloads: always checked
        assert not (tmp_path / "out" / "question.jsonl").exists()
        monkeypatch.setattr(mtbench, "RAW_URL", "http://127.0.0.1:9/{commit}/{path}")
        with pytest.raises(UserError, match=r"download of .* failed .*set eval.mtbench.local_data"):
            mtbench.fetch_data(tmp_path / "out")
    finally:
        server.shutdown()
        server.server_close()


def test_paper_table_gets_the_mt_bench_score_column_only(tmp_path):
    from workflow_lib.config.grid import Run, Selection
    from workflow_lib.evaluate.metrics import write_metrics
    from workflow_lib.report.tables import collect_metrics, main_table, selection_table

    rows = [judgment(1, 1, 0, 8.0), judgment(2, 2, 0, 6.0, "math")]
    runs = [Run("base-m", "m"), Run("p-zip-10-m", "m", Selection("p", "zip", "10"))]
    paths = []
    for run in runs:
        paths.append(tmp_path / f"{run.name}.json")
        write_metrics(paths[-1], mtbench_metrics(run.name, rows, 1))
    metrics = collect_metrics(paths, runs)
    assert len(metrics) == 2 * 7  # score, 2 turns, spread, failures, 2 categories
    table = main_table(metrics, selection_table([]))
    assert [c for c in table.columns if "mt_bench" in c] == ["mt_bench (score) ↑"]
    assert list(table["mt_bench (score) ↑"]) == [7.0, 7.0]
