"""Run many images through a pool of single-threaded worker processes; yield records as they complete.

The pool is tinycrnn's own (spawned ``multiprocessing`` processes, one pipe each) rather than
``ProcessPoolExecutor`` or ``Pool``: when a worker is killed (OOM, SIGKILL) the executor fails every
pending future without saying which image the dead worker held, and ``Pool`` waits forever. Here the
parent knows what each worker holds, so the image being read becomes a ``WorkerDied`` error record,
the rest of that worker's chunk goes back to the queue, and a new worker takes its place.
"""
import logging
import multiprocessing as mp
import os
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any, Deque, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from ..errors import TinyCRNNError
from .inputs import expand_inputs
from .records import Journal, open_journal, worker_died_record
from .worker import worker_main

log = logging.getLogger("tinycrnn")

#: Chunks a worker holds (the one it reads and the next ones): enough that it never waits for a busy parent
#: between 20 ms line crops on a loaded machine; what a killed worker held beyond its current image is requeued.
PREFETCH = 4
#: Seconds a worker gets to exit after being asked (or terminated) before it is killed.
STOP_TIMEOUT = 3.0
#: Workers killed by a signal while loading their models (the OOM killer, a user) that are replaced before the run
#: gives up: a machine that cannot hold the models should stop the run, not restart workers forever.
MAX_LOAD_KILLS = 3


class WorkerStartError(TinyCRNNError, RuntimeError):
    """A worker could not load its models (bad model, out of memory at start)."""


def available_cores() -> int:
    """Cores this process may run on (``os.sched_getaffinity``; cgroup/taskset aware), else ``os.cpu_count``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass
class _Worker:
    proc: Any
    conn: Any
    ready: bool = False
    held: Deque[Tuple[int, str]] = field(default_factory=deque)


@dataclass
class RunStats:
    """What a run did: counts, wall time, each worker's model-load time, restarts after a worker died."""

    done: int = 0
    errors: int = 0
    lines: int = 0
    skipped: int = 0
    total: int = 0
    seconds: float = 0.0
    load_ms: List[float] = field(default_factory=list)
    restarts: int = 0


class Pool:
    """``n`` spawned worker processes, each holding one :class:`~tinycrnn.batch.worker.Reader`."""

    def __init__(self, n: int, config: Dict[str, Any], stats: RunStats):
        self.ctx = mp.get_context("spawn")
        self.config = config
        self.stats = stats
        self.load_kills = 0
        self.workers: List[_Worker] = [self._start() for _ in range(n)]

    def _start(self) -> _Worker:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=worker_main, args=(child, self.config), daemon=True, name="tinycrnn-batch")
        proc.start()
        child.close()
        return _Worker(proc, parent)

    def run(self, tasks: Sequence[Tuple[int, str]], chunksize: int = 1, prefetch: int = PREFETCH) -> Iterator[Tuple[int, Dict]]:
        """Yield ``(index, record)`` for every task, in completion order; a worker holds ``prefetch`` chunks."""
        todo: Deque[Tuple[int, str]] = deque(tasks)
        limit = max(1, chunksize) * max(1, prefetch)
        while todo or any(w.held for w in self.workers):
            for w in self.workers:
                while w.ready and todo and len(w.held) + min(chunksize, len(todo)) <= limit:
                    chunk = [todo.popleft() for _ in range(min(chunksize, len(todo)))]
                    w.held.extend(chunk)
                    w.conn.send(chunk)
            waitables = {w.conn: w for w in self.workers}
            waitables.update({w.proc.sentinel: w for w in self.workers})
            for obj in wait(list(waitables)):
                w = waitables[obj]
                if w not in self.workers:
                    continue  # replaced earlier in this round
                if obj is w.conn:
                    try:
                        msg = w.conn.recv()
                    except (EOFError, OSError):
                        msg = None
                    if msg is not None:
                        yield from self._handle(w, msg)
                        continue
                yield from self._replace(w, todo)

    def _handle(self, w: _Worker, msg: tuple) -> Iterator[Tuple[int, Dict]]:
        if msg[0] == "rec":
            idx, path = w.held.popleft()
            yield msg[1], msg[2]
        elif msg[0] == "ready":
            w.ready = True
            self.stats.load_ms.append(msg[2])
            self.model = msg[3]
        elif msg[0] == "fatal":
            raise WorkerStartError(f"a batch worker could not start: {msg[1]}: {msg[2]}")

    def _replace(self, w: _Worker, todo: Deque[Tuple[int, str]]) -> Iterator[Tuple[int, Dict]]:
        """``w`` died: drain what it sent, give the image it was reading an error record, requeue the rest."""
        while True:
            try:
                if not w.conn.poll():
                    break
                msg = w.conn.recv()
            except (EOFError, OSError):
                break
            yield from self._handle(w, msg)
        w.proc.join(STOP_TIMEOUT)
        code = w.proc.exitcode
        if not w.ready:
            # NOTE: it held no image yet. Killed by a signal: replace it (up to MAX_LOAD_KILLS times). Exited on its
            # own without a "fatal" message: the spawned process failed to re-import the caller's script.
            if code is None or code >= 0:
                raise WorkerStartError(f"a batch worker exited while loading its models (exit code {code}); a script "
                                       "that calls tinycrnn.batch.run must do so under `if __name__ == '__main__':` "
                                       "(workers are spawned and re-import it)")
            self.load_kills += 1
            if self.load_kills > MAX_LOAD_KILLS:
                raise WorkerStartError(f"batch workers were killed by signal {-code} while loading their models "
                                       f"{self.load_kills} times (out of memory? try fewer --workers)")
            log.warning("tinycrnn batch: worker %s was killed by signal %s while loading its models; restarted",
                        w.proc.pid, -code)
        self.workers[self.workers.index(w)] = self._start()
        self.stats.restarts += 1
        w.conn.close()
        if w.held:
            idx, path = w.held.popleft()
            todo.extendleft(reversed(w.held))
            log.warning("tinycrnn batch: worker %s died (exit code %s) reading %s; restarted", w.proc.pid,
                        w.proc.exitcode, path)
            yield idx, worker_died_record(path, self.config.get("mode", "page"), getattr(self, "model", "?"),
                                          w.proc.pid, w.proc.exitcode)

    def close(self, terminate: bool = False) -> None:
        """Stop every worker: ask politely (or SIGTERM when ``terminate``), then kill what is left."""
        for w in self.workers:
            try:
                if terminate:
                    w.proc.terminate()
                else:
                    w.conn.send(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + STOP_TIMEOUT
        for w in self.workers:
            w.proc.join(max(0.0, deadline - time.monotonic()))
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join()
            w.conn.close()
        self.workers = []


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def record_stream(results: Iterator[Tuple[int, Dict]], journal, stats, t0: float) -> Iterator[Dict]:
    """Each ``(index, record)`` of a run (local workers or Ray actors) written to ``journal`` (or None),
    counted in ``stats``, then yielded."""
    for _, rec in results:
        if journal is not None:
            journal.write(rec)
        stats.done += 1
        stats.errors += "error" in rec
        stats.lines += len(rec.get("lines", ()))
        stats.seconds = time.perf_counter() - t0
        yield rec


def _ordered(results: Iterator[Tuple[int, Dict]], order: Sequence[int]) -> Iterator[Tuple[int, Dict]]:
    """Re-emit ``results`` in the order of ``order`` (indices), holding back early arrivals."""
    held: Dict[int, Dict] = {}
    pos = 0
    for idx, rec in results:
        held[idx] = rec
        while pos < len(order) and order[pos] in held:
            yield order[pos], held.pop(order[pos])
            pos += 1


def run(inputs: Union[str, Sequence[str]], out: Optional[str] = None, workers: Optional[int] = None,
        mode: str = "page", model: Optional[str] = None, decode_options: Optional[Dict[str, Any]] = None,
        case: bool = True, min_confidence: float = 0.0, ordered: bool = False, retry_errors: bool = False,
        chunksize: int = 1, stats: Optional[RunStats] = None) -> Iterator[Dict[str, Any]]:
    """Read many images with ``workers`` processes and yield one record per image as it completes.

    Args:
        inputs: files, folders, globs or list files (see :func:`~tinycrnn.batch.inputs.expand_inputs`).
        out: a JSONL results file: records are appended as they complete, and paths recorded there by an
            earlier run are skipped (resume). None: nothing is written.
        workers: processes, each on one thread (default: the cores available to this process).
        mode, model, decode_options, case, min_confidence: see :class:`~tinycrnn.batch.worker.Reader`.
        ordered: yield (and write) in input order instead of completion order.
        retry_errors: read again the images ``out`` holds error records for.
        chunksize: paths sent to a worker per message (a worker holds at most :data:`PREFETCH` chunks).
        stats: a :class:`RunStats` to fill in.

    Yields:
        Record dicts (``tinycrnn.batch.records``); a bad image yields an error record, it never raises.

    Raises:
        InputError: the inputs name no file. WorkerStartError: the models could not be loaded.
        ModelNotFoundError: ``model`` does not exist.

    Workers are spawned processes that re-import the calling script: call this under
    ``if __name__ == "__main__":`` (as for any ``multiprocessing`` code).

    Example:
        >>> from tinycrnn.batch import run
        >>> for rec in run(["scans/"], out="results.jsonl", workers=2):  # doctest: +SKIP
        ...     print(rec["path"], len(rec.get("lines", [])))
    """
    stats = stats if stats is not None else RunStats()
    paths = expand_inputs([inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs))
    if model:
        from ..engine import resolve_model_path

        resolve_model_path(model)  # fail before any process starts
    done, _ = open_journal(out, retry_errors) if out else (set(), 0)
    tasks = [(i, p) for i, p in enumerate(paths) if p not in done]
    stats.total, stats.skipped = len(tasks), len(paths) - len(tasks)
    if not tasks:
        return
    n = max(1, min(int(workers or available_cores()), len(tasks)))
    # NOTE: largest files first (longest-processing-time first): the run does not end on one big scan read
    # alone while the other workers idle. Output order is unaffected (completion order, or --ordered).
    dispatch = sorted(tasks, key=lambda t: -_file_size(t[1])) if n > 1 else tasks
    config = {"mode": mode, "model": model, "decode_options": dict(decode_options or {}), "case": case,
              "min_confidence": min_confidence}
    t0 = time.perf_counter()
    journal = Journal(out) if out else None
    pool = Pool(n, config, stats)
    clean = False
    try:
        results = pool.run(dispatch, chunksize=chunksize)
        if ordered:
            results = _ordered(results, [i for i, _ in tasks])
        yield from record_stream(results, journal, stats, t0)
        clean = True
    finally:
        pool.close(terminate=not clean)
        if journal is not None:
            journal.close()
        stats.seconds = time.perf_counter() - t0
