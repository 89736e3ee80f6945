"""Hub downloads: offline fails at once, transient errors are retried, permanent ones are not."""

import time

import pytest

from workflow_lib.data.hub import HubError, require_online, resolve_revision, with_retries


def test_offline_config_fails_before_any_network_call():
    with pytest.raises(HubError, match="offline: true"):
        require_online(True, "dataset tatsu-lab/alpaca")
    require_online(False, "dataset tatsu-lab/alpaca")


def test_transient_errors_are_retried_then_succeed():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("reset")
        return "ok"

    assert with_retries(flaky, "thing", retries=3, backoff_s=0) == "ok"
    assert len(calls) == 3


def test_retries_exhausted_give_one_clear_error():
    def down():
        raise ConnectionError("no route")

    with pytest.raises(HubError, match=r"could not download thing after 3 attempts.*local file"):
        with_retries(down, "thing", retries=2, backoff_s=0)


def test_permanent_errors_are_not_retried():
    calls = []

    def missing():
        calls.append(1)
        raise FileNotFoundError("no such split")

    with pytest.raises(HubError):
        with_retries(missing, "thing", retries=5, backoff_s=0)
    assert calls == [1]


def test_unreachable_hub_fails_fast(monkeypatch):
    """Real code path: with hub offline mode the lookup fails at once, without a retry wait
    (offline mode is a permanent error). The hub library reads HF_HUB_OFFLINE once, at import,
    so the test sets the library's flag, not the environment variable."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    waits = []
    monkeypatch.setattr(time, "sleep", waits.append)
    with pytest.raises(HubError, match="tatsu-lab/alpaca"):
        resolve_revision("tatsu-lab/alpaca", "main", "dataset", retries=1)
    assert waits == []
