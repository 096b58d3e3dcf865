"""Heavy demo work (completion's auto α: seconds to minutes) in a bounded pool, apart from slider renders.

There is no global compute lock: a slider render never waits for another user's heavy job (with one lock, a
0.4 s render once waited 103 s behind an auto α). Heavy jobs run on a fixed number of worker threads with a
bounded queue and at most ``per_key`` jobs per session; the workers run at a lower OS priority (Linux ``nice``,
inherited by the OpenMP threads torch starts from them), so on a machine with few cores the CPU goes to
renders first and a heavy job takes what is left.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


class Busy(Exception):
    """The pool refused a job: ``status`` 429 (this session already has one) or 503 (the queue is full)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Job:
    key: str
    name: str
    run: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)
    started: float | None = None  # time.monotonic() when a worker took it; None while queued


class JobPool:
    """``workers`` daemon threads running heavy jobs in submission order.

    Args:
        workers: jobs that run at once (each uses torch's threads: on a small CPU, 1).
        max_queued: jobs that may wait for a worker; one more is refused with :class:`Busy` (503), so a burst
            of clicks cannot queue hours of work.
        per_key: unfinished jobs one session may have; one more is refused with :class:`Busy` (429). Refused
            rather than queued: the page accepts no second click meanwhile, and a second auto α of the same
            image would compute the same answer again while other users wait.
        nice: how much lower the workers' OS priority is than the renders' (Linux only; 0: the same).
    """

    def __init__(self, workers: int = 1, max_queued: int = 8, per_key: int = 1, nice: int = 10) -> None:
        if workers < 1 or max_queued < 0 or per_key < 1:
            raise ValueError(f"bad job pool size: workers={workers}, max_queued={max_queued}, per_key={per_key}")
        self.max_queued, self.per_key, self.nice = max_queued, per_key, nice
        self._jobs: list[_Job] = []  # unfinished jobs, oldest first
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        # Daemon threads: Ctrl-C on the server must not wait for a minutes-long job to end.
        for i in range(workers):
            threading.Thread(target=self._work, name=f"dynamicnet-job-{i}", daemon=True).start()

    def submit(self, key: str, name: str, run: Callable[[], Any]) -> Future[Any]:
        """Queue ``run()`` as session ``key``'s job ``name``; cancelling the future drops it while it waits."""
        with self._lock:
            if sum(job.key == key for job in self._jobs) >= self.per_key:
                raise Busy(f"{name} is already running for this image; wait for it to finish", 429)
            if sum(job.started is None for job in self._jobs) >= self.max_queued:
                raise Busy("the server is busy with other users' jobs; try again in a minute", 503)
            job = _Job(key, name, run)
            self._jobs.append(job)
        job.future.add_done_callback(lambda _: self._forget(job))
        self._queue.put(job)
        return job.future

    def status(self, key: str) -> dict[str, Any] | None:
        """Session ``key``'s unfinished job: ``{"job", "state": "running", "elapsed_s"}`` or ``{"job", "state":
        "queued", "ahead"}`` (unfinished jobs submitted before it, running ones included), or None."""
        with self._lock:
            for i, job in enumerate(self._jobs):
                if job.key != key:
                    continue
                if job.started is not None:
                    return {"job": job.name, "state": "running", "elapsed_s": round(time.monotonic() - job.started, 1)}
                return {"job": job.name, "state": "queued", "ahead": i}
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def _forget(self, job: _Job) -> None:
        with self._lock:
            self._jobs.remove(job)

    def _work(self) -> None:
        _lower_priority(self.nice)
        while True:
            job = self._queue.get()
            if not job.future.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            with self._lock:
                job.started = time.monotonic()
            try:
                result = job.run()
            except BaseException as exc:  # handed to the request that waits for it
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)


def _lower_priority(nice: int) -> None:
    """Raise this thread's nice value (Linux: per thread; elsewhere it would lower the whole process: skip)."""
    if nice and sys.platform.startswith("linux"):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + nice)
