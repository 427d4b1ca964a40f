"""tinycrnn on a Ray cluster (``ray`` extra): a callable class for ``Dataset.map_batches`` and the driver
behind ``tinycrnn batch --ray ADDRESS``.

Each actor holds one :class:`~tinycrnn.batch.worker.Reader` (one copy of the models) and pins itself to one
thread; Ray schedules logical CPUs and does not pin anything. Records are the local runner's, so a
Ray run and a local run of the same images agree. Never imported by the base package.

    import ray, tinycrnn.batch.ray as tr
    ds = ray.data.from_items([{"path": p} for p in paths])       # shared storage: ship paths
    # no shared storage: ray.data.read_binary_files(paths, include_paths=True) ships the bytes
    out = ds.map_batches(tr.OCRActor, fn_constructor_kwargs={"mode": "page"}, batch_size=1,
                         compute=ray.data.ActorPoolStrategy(size=4), num_cpus=1)
    for row in out.iter_rows():
        record = json.loads(row["record"])
"""
import json
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import numpy as np

from .inputs import expand_inputs
from .records import Journal, open_journal
from .worker import Reader, pin_threads


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        from ..errors import MissingDependencyError

        raise MissingDependencyError("the Ray path needs Ray Data: pip install 'tinycrnn[ray]'") from None
    return ray


class OCRActor:
    """``Dataset.map_batches`` callable: rows with ``path`` (and optionally ``bytes``) in, ``path`` +
    ``record`` (the record as a JSON string, see :mod:`tinycrnn.batch.records`) out.

    Args: as :class:`~tinycrnn.batch.worker.Reader`, plus ``threads`` (compute threads of this actor, 1).
    A bad image gives an error record; the actor never raises for one.
    """

    def __init__(self, mode: str = "page", model: Optional[str] = None, decode_options: Optional[Dict[str, Any]] = None,
                 case: bool = True, min_confidence: float = 0.0, threads: int = 1):
        pin_threads(threads)
        self.reader = Reader(mode=mode, model=model, decode_options=decode_options, case=case,
                             min_confidence=min_confidence)

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        paths = [str(p) for p in batch["path"]]
        data = batch.get("bytes")
        records = [self.reader.read(p, None if data is None or data[i] is None else bytes(data[i]))
                   for i, p in enumerate(paths)]
        out = {"path": np.array(paths, dtype=object),
               "record": np.array([json.dumps(r, ensure_ascii=False) for r in records], dtype=object)}
        if "index" in batch:
            out["index"] = np.asarray(batch["index"])
        return out


def run_on_ray(inputs: Union[str, Sequence[str]], address: Optional[str] = "auto", out: Optional[str] = None,
               actors: Optional[int] = None, mode: str = "page", model: Optional[str] = None,
               decode_options: Optional[Dict[str, Any]] = None, case: bool = True, min_confidence: float = 0.0,
               ordered: bool = False, retry_errors: bool = False, send_bytes: bool = False,
               stats: Any = None) -> Iterator[Dict[str, Any]]:
    """:func:`tinycrnn.batch.run` on a Ray cluster: same inputs, journal, resume and records.

    Args:
        address: the cluster (``"auto"``, ``"HOST:PORT"``); ignored when ``ray.init`` was called already.
        actors: actors of one CPU each (default: the cluster's CPUs less one, so Ray Data keeps a free CPU
            for its own tasks; at least 1). Ray places them (on the two-node test cluster: one per node).
        send_bytes: the driver reads each file and ships its bytes through the object store (clusters without
            shared storage; the driver holds every file first, so for small runs: at scale feed ``OCRActor``
            from ``ray.data.read_binary_files(..., include_paths=True)``); by default actors open the paths.
        Others: see :func:`tinycrnn.batch.run`.
    """
    from .runner import RunStats, _ordered, record_stream

    ray = _import_ray()
    stats = stats if stats is not None else RunStats()
    paths = expand_inputs([inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs))
    done, _ = open_journal(out, retry_errors) if out else (set(), 0)
    tasks = [(i, p) for i, p in enumerate(paths) if p not in done]
    stats.total, stats.skipped = len(tasks), len(paths) - len(tasks)
    if not tasks:
        return
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, logging_level="WARNING", log_to_driver=False)
    import time

    t0 = time.perf_counter()
    journal = Journal(out) if out else None
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        n = actors or max(1, int(ray.cluster_resources().get("CPU", 2)) - 1)
        items: List[Dict[str, Any]] = []
        for i, p in tasks:
            item: Dict[str, Any] = {"index": i, "path": p}
            if send_bytes:
                try:
                    with open(p, "rb") as f:
                        item["bytes"] = f.read()
                except OSError:
                    item["bytes"] = None  # NOTE: the actor opens the path and gives the error record a local run gives
            items.append(item)
        # NOTE: one block per image (up to 10k blocks) so records stream back one by one
        ds = ray.data.from_items(items, override_num_blocks=min(len(items), 10_000))
        config = {"mode": mode, "model": model, "decode_options": dict(decode_options or {}), "case": case,
                  "min_confidence": min_confidence}
        ds = ds.map_batches(OCRActor, fn_constructor_kwargs=config, batch_size=1,
                            compute=ray.data.ActorPoolStrategy(size=n), num_cpus=1)
        results = ((int(row["index"]), json.loads(row["record"])) for row in ds.iter_rows())
        if ordered:
            results = _ordered(results, [i for i, _ in tasks])
        yield from record_stream(results, journal, stats, t0)
    finally:
        if journal is not None:
            journal.close()
        stats.seconds = time.perf_counter() - t0
        if started:
            ray.shutdown()
