"""Micro-batching: line crops from concurrent requests share forward passes.

Requests hand their (already decoded) line images to one worker thread. The worker waits up to
``max_wait_ms`` for more lines (or until ``max_batch`` are waiting), picks lines round-robin
across requests (so one large page cannot starve a small request), groups them by padded width
(so batching never changes a line's result) and runs each group as one forward pass. The queue
is bounded in lines: when full, :meth:`MicroBatcher.submit` raises :class:`Overloaded` at once
instead of letting memory grow.
"""
import collections
import logging
import threading
import time
from typing import Deque, Dict, List, Optional

import numpy as np

from ..errors import TinyCRNNError
from ..recognizer import Recognizer, group_by_width

log = logging.getLogger("tinycrnn")


class Overloaded(TinyCRNNError):
    """The recognition queue is full; retry later."""


class _Job:
    __slots__ = ("images", "results", "remaining", "done", "error", "next_index")

    def __init__(self, images: List[np.ndarray]):
        self.images = images
        self.results: List[Optional[np.ndarray]] = [None] * len(images)
        self.remaining = len(images)
        self.next_index = 0
        self.done = threading.Event()
        self.error: Optional[BaseException] = None


class MicroBatcher:
    """Runs :meth:`Recognizer.run_group` for many requests on one worker thread.

    Args:
        recognizer: the resident recognizer.
        max_batch: most lines gathered into one round of forward passes.
        max_wait_ms: how long the worker waits for more lines once the first arrives.
        max_queue: most lines waiting; beyond it, submissions are refused with :class:`Overloaded`.
    """

    def __init__(self, recognizer: Recognizer, max_batch: int = 16, max_wait_ms: float = 5.0, max_queue: int = 512):
        self.recognizer = recognizer
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self._jobs: Deque[_Job] = collections.deque()
        self._pending = 0
        self._cv = threading.Condition()
        self._closed = False
        self.stats: Dict[str, int] = {"forward_passes": 0, "lines": 0, "shared_passes": 0, "largest_pass": 0,
                                      "rejected": 0}
        self._thread = threading.Thread(target=self._run, name="tinycrnn-batcher", daemon=True)
        self._thread.start()

    @property
    def pending_lines(self) -> int:
        return self._pending

    def submit(self, images: List[np.ndarray], timeout: float = 120.0) -> List[np.ndarray]:
        """Recognise ``images`` (loaded uint8 lines); returns their (T, K) probabilities in order.

        Raises:
            Overloaded: the queue cannot take this many lines now, or the wait timed out.
        """
        if not images:
            return []
        job = _Job(list(images))
        with self._cv:
            if self._pending + len(images) > self.max_queue and self._pending > 0:
                self.stats["rejected"] += 1
                raise Overloaded(f"recognition queue full ({self._pending} lines waiting)")
            self._jobs.append(job)
            self._pending += len(images)
            self._cv.notify()
        if not job.done.wait(timeout):
            raise Overloaded(f"recognition did not finish within {timeout:.0f} s")
        if job.error is not None:
            raise job.error
        return job.results  # type: ignore[return-value]

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._thread.join(timeout=5)

    def _take(self):
        """Pick up to max_batch lines round-robin across waiting jobs (call with the lock held)."""
        picked = []
        while self._jobs and len(picked) < self.max_batch:
            job = self._jobs.popleft()
            picked.append((job, job.next_index))
            job.next_index += 1
            if job.next_index < len(job.images):
                self._jobs.append(job)
        self._pending -= len(picked)
        return picked

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._jobs and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                deadline = time.monotonic() + self.max_wait
                while self._pending < self.max_batch and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cv.wait(left)
                picked = self._take()
            self._process(picked)

    def _process(self, picked) -> None:
        rec = self.recognizer
        prepared = []
        for job, i in picked:
            try:
                prepared.append(rec.prepare(job.images[i]))
            except BaseException as exc:  # noqa: BLE001 - the error is handed to the waiting request
                prepared.append(None)
                job.error = exc
        ok = [k for k, p in enumerate(prepared) if p is not None]
        for group in group_by_width([prepared[k][1] for k in ok], rec.batch_size):
            members = [ok[g] for g in group]
            try:
                probs = rec.run_group([prepared[k][0] for k in members], prepared[members[0]][1])
            except BaseException as exc:  # noqa: BLE001
                log.exception("forward pass failed")
                for k in members:
                    picked[k][0].error = exc
                continue
            self.stats["forward_passes"] += 1
            self.stats["lines"] += len(members)
            self.stats["largest_pass"] = max(self.stats["largest_pass"], len(members))
            if len({id(picked[k][0]) for k in members}) > 1:
                self.stats["shared_passes"] += 1
            for j, k in enumerate(members):
                job, i = picked[k]
                job.results[i] = probs[j]
        for job, _ in picked:
            job.remaining -= 1
            if job.remaining == 0:
                job.done.set()
