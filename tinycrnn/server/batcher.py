"""Micro-batching: forward passes from concurrent requests are merged into shared ones.

Request threads call :meth:`MicroBatcher.forward` exactly as they would call
``Model.forward``. One worker thread gathers the waiting batches for up to ``max_wait_ms`` (or
until ``max_batch`` lines wait), concatenates those with the same padded shape, runs each
merged batch once and hands every caller its own rows back. A line's tensor is never padded
differently because of its neighbours, so results are exactly those of an unbatched call.

Fairness: a page request submits its line batches one after another from its own thread, so it
never holds more than one place in the queue and cannot starve a small request. The queue is
bounded in lines; past the bound :class:`Overloaded` is raised at once instead of letting
memory grow.
"""
import collections
import logging
import threading
import time
from typing import Deque, Dict, Optional

import numpy as np

from ..errors import TinyCRNNError

log = logging.getLogger("tinycrnn")


class Overloaded(TinyCRNNError):
    """The recognition queue is full, or a request waited too long; retry later."""


class _Job:
    __slots__ = ("x", "squeeze_width", "y", "done", "error", "owner")

    def __init__(self, x: np.ndarray, squeeze_width: int = 0):
        self.x = x
        self.squeeze_width = squeeze_width
        self.y: Optional[np.ndarray] = None
        self.done = threading.Event()
        self.error: Optional[BaseException] = None
        self.owner = threading.get_ident()


class MicroBatcher:
    """Shares ``model.forward`` between threads.

    Args:
        model: a :class:`tinycrnn.Model` (anything with ``forward(x [B, C, H, W]) -> [B, T, K]``).
        max_batch: most lines in one merged forward pass.
        max_wait_ms: how long the worker waits for more work once the first batch arrives.
        max_queue: most lines waiting; beyond it :meth:`forward` raises :class:`Overloaded`.
        timeout_s: longest a caller waits for its result.
    """

    def __init__(self, model, max_batch: int = 16, max_wait_ms: float = 5.0, max_queue: int = 512,
                 timeout_s: float = 120.0):
        self.model = model
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.timeout = timeout_s
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

    def forward(self, x: np.ndarray, squeeze_width: int = 0) -> np.ndarray:
        """``model.forward(x, squeeze_width)``, possibly merged with other callers' batches of the same shape and
        ``squeeze_width``.

        Raises:
            Overloaded: the queue cannot take ``len(x)`` more lines now, or the result took too long.
        """
        job = _Job(x, squeeze_width)
        with self._cv:
            if self._closed:
                raise Overloaded("the server is shutting down")
            if self._pending > 0 and self._pending + len(x) > self.max_queue:
                self.stats["rejected"] += 1
                raise Overloaded(f"recognition queue full ({self._pending} lines waiting)")
            self._jobs.append(job)
            self._pending += len(x)
            self._cv.notify()
        if not job.done.wait(self.timeout):
            raise Overloaded(f"recognition did not finish within {self.timeout:.0f} s")
        if job.error is not None:
            raise job.error
        return job.y  # type: ignore[return-value]

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._thread.join(timeout=5)

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
                jobs = list(self._jobs)
                self._jobs.clear()
                self._pending = 0
            self._process(jobs)

    def _process(self, jobs) -> None:
        groups: Dict[tuple, list] = {}
        for job in jobs:
            groups.setdefault((job.x.shape[1:], job.squeeze_width), []).append(job)
        for members in groups.values():
            start = 0
            while start < len(members):
                chunk, lines = [], 0
                while start < len(members) and (not chunk or lines + len(members[start].x) <= self.max_batch):
                    chunk.append(members[start])
                    lines += len(members[start].x)
                    start += 1
                self._run_chunk(chunk, lines)

    def _run_chunk(self, chunk, lines: int) -> None:
        try:
            x = chunk[0].x if len(chunk) == 1 else np.concatenate([j.x for j in chunk])
            sw = chunk[0].squeeze_width
            y = self.model.forward(x, sw) if sw else self.model.forward(x)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting callers
            log.exception("forward pass failed")
            for job in chunk:
                job.error = exc
                job.done.set()
            return
        self.stats["forward_passes"] += 1
        self.stats["lines"] += lines
        self.stats["largest_pass"] = max(self.stats["largest_pass"], lines)
        if len({j.owner for j in chunk}) > 1:
            self.stats["shared_passes"] += 1
        row = 0
        for job in chunk:
            job.y = y[row : row + len(job.x)]
            row += len(job.x)
            job.done.set()


class BatchedModel:
    """A model whose ``forward`` goes through a :class:`MicroBatcher`; everything else is the model's."""

    def __init__(self, model, batcher: MicroBatcher):
        self._model = model
        self._batcher = batcher

    def forward(self, x: np.ndarray, squeeze_width: int = 0) -> np.ndarray:
        return self._batcher.forward(x, squeeze_width)

    def __getattr__(self, name):
        return getattr(self._model, name)
