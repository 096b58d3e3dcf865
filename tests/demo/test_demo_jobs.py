"""The demo's heavy-job pool: bounded workers, a bounded queue, one job per session, lower OS priority."""

import os
import sys
import threading

import pytest

from dynamicnet.demo.jobs import Busy, JobPool


def gate():
    """A job that waits until the test opens its gate (no CPU used), and the event that opens it."""
    opened = threading.Event()
    return opened, lambda: opened.wait(30) and "done"


def wait_running(pool, key):
    for _ in range(500):
        status = pool.status(key)
        if status and status["state"] == "running":
            return status
        threading.Event().wait(0.01)
    raise AssertionError(f"{key}'s job never started: {pool.status(key)}")


def test_one_job_per_session_a_bounded_queue_and_where_each_job_is():
    pool = JobPool(workers=1, max_queued=1)
    open_a, job_a = gate()
    open_b, job_b = gate()
    a = pool.submit("a", "auto", job_a)
    assert wait_running(pool, "a")["job"] == "auto"
    with pytest.raises(Busy) as again:  # the same session again: refused, not queued
        pool.submit("a", "auto", job_a)
    assert again.value.status == 429 and "already running" in str(again.value)
    b = pool.submit("b", "auto", job_b)
    assert pool.status("b") == {"job": "auto", "state": "queued", "ahead": 1}
    with pytest.raises(Busy) as full:  # one queued job is all this pool takes
        pool.submit("c", "auto", lambda: None)
    assert full.value.status == 503
    open_a.set()
    assert a.result(10) == "done"
    assert wait_running(pool, "b")["elapsed_s"] >= 0
    open_b.set()
    assert b.result(10) == "done"
    assert pool.status("a") is None and pool.status("b") is None and len(pool) == 0
    assert pool.submit("a", "auto", lambda: 7).result(10) == 7  # a finished session may start another


def test_a_failing_job_hands_its_error_to_the_caller_and_frees_its_slot():
    pool = JobPool()

    def fail():
        raise ValueError("no hole")

    with pytest.raises(ValueError, match="no hole"):
        pool.submit("a", "auto", fail).result(10)
    assert pool.submit("a", "auto", lambda: 1).result(10) == 1


def test_a_job_cancelled_while_queued_never_runs():
    pool = JobPool(workers=1, max_queued=1)
    opened, blocker = gate()
    pool.submit("a", "auto", blocker)
    wait_running(pool, "a")
    ran = threading.Event()
    queued = pool.submit("b", "auto", ran.set)
    assert queued.cancel()
    assert pool.status("b") is None
    after = pool.submit("c", "auto", lambda: None)  # its queue slot is free again
    opened.set()
    after.result(10)  # the worker went past the cancelled job to the next one
    assert not ran.is_set()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_workers_run_at_a_lower_priority_than_the_server():
    base = os.getpriority(os.PRIO_PROCESS, 0)
    pool = JobPool(nice=5)
    # who=0 is the calling thread on Linux: the worker's own nice value, which torch's OpenMP threads inherit
    assert pool.submit("a", "nice", lambda: os.getpriority(os.PRIO_PROCESS, 0)).result(10) == min(19, base + 5)
    assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the caller (the server's renders) is untouched
