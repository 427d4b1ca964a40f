"""Batch records and the results file: one JSON object per image, appended line by line.

A record is ``{"path", "mode", "model", "width", "height", "lines": [{"text", "confidence", "box"}],
"timing_ms": {"load", "detect", "recognise", "total"}}`` or, for an image that could not be read,
``{"path", "mode", "model", "error": {"type", "message"}}``. ``box`` is 4 [x, y] corners clockwise from
the top-left, in the image's pixels. Everything but ``timing_ms`` is a function of the image, the model
and the options, so two runs of the same inputs give equal records (:func:`comparable`).

The file is the run's journal: a record counts as written once its newline is on disk, so a run killed
mid-write leaves at most one partial last line, which the next run cuts off (:func:`open_journal`).
"""
import json
import os
import time
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from ..errors import TinyCRNNError

#: Records written between two fsyncs (and at most FSYNC_SECONDS apart).
FSYNC_EVERY = 32
FSYNC_SECONDS = 2.0


class JournalError(TinyCRNNError, ValueError):
    """The results file exists but is not a tinycrnn batch file (a line in the middle is not a record)."""


def full_box(width: int, height: int) -> List[List[float]]:
    return [[0.0, 0.0], [float(width), 0.0], [float(width), float(height)], [0.0, float(height)]]


def page_record(path: str, model: str, page: Any) -> Dict[str, Any]:
    """The record of a :class:`~tinycrnn.page.pipeline.PageResult`; its ``load`` time includes deskew."""
    t = page.timings
    return {"path": path, "mode": "page", "model": model, "width": page.width, "height": page.height,
            "lines": [line.to_dict() for line in page.lines],
            "timing_ms": {"load": round(t.get("preprocess", 0.0), 2), "detect": round(t.get("detect", 0.0), 2),
                          "recognise": round(t.get("recognise", 0.0) + t.get("decode", 0.0) + t.get("assemble", 0.0), 2),
                          "total": round(page.total_time_ms, 2)}}


def line_record(path: str, model: str, width: int, height: int, decoded: Any, load_ms: float,
                recognise_ms: float) -> Dict[str, Any]:
    """The record of one text-line image: a single line whose box is the whole image."""
    lines = [{"text": decoded.text, "confidence": round(float(decoded.confidence), 6),
              "box": full_box(width, height)}] if decoded.text else []
    return {"path": path, "mode": "line", "model": model, "width": width, "height": height, "lines": lines,
            "timing_ms": {"load": round(load_ms, 2), "detect": 0.0, "recognise": round(recognise_ms, 2),
                          "total": round(load_ms + recognise_ms, 2)}}


def error_record(path: str, mode: str, model: str, exc: BaseException) -> Dict[str, Any]:
    message = str(exc) or type(exc).__name__
    return {"path": path, "mode": mode, "model": model, "error": {"type": type(exc).__name__, "message": message}}


def worker_died_record(path: str, mode: str, model: str, pid: int, exitcode: Optional[int]) -> Dict[str, Any]:
    how = f"signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit code {exitcode}"
    hint = " (SIGKILL: out of memory?)" if exitcode == -9 else ""
    return {"path": path, "mode": mode, "model": model,
            "error": {"type": "WorkerDied", "message": f"worker {pid} died with {how}{hint} while reading this image"}}


def comparable(record: Dict[str, Any]) -> Dict[str, Any]:
    """``record`` without its timings: what two runs of the same image and options must agree on."""
    return {k: v for k, v in record.items() if k != "timing_ms"}


def dumps(record: Dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def read_records(path: str) -> List[Dict[str, Any]]:
    """Every complete record of a JSONL results file (a partial last line is ignored)."""
    with open(path, "rb") as f:
        data = f.read()
    end = data.rfind(b"\n") + 1
    return [json.loads(line) for line in data[:end].decode("utf-8").splitlines() if line.strip()]


def repair(path: str) -> int:
    """Cut a partial last line (a run killed mid-write) off ``path``; returns the bytes removed.

    Raises:
        JournalError: a complete line is not a JSON object with a ``path``.
    """
    with open(path, "rb+") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        for n, line in enumerate(data[:end].split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                rec = None
            if not isinstance(rec, dict) or "path" not in rec:
                raise JournalError(f"{path}: line {n} is not a tinycrnn batch record; pass a new --out file")
        if end < len(data):
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())
        return len(data) - end


def open_journal(path: str, retry_errors: bool = False) -> Tuple[Set[str], int]:
    """Make ``path`` ready to append to and return ``(paths already done, bytes cut)``.

    Error records count as done unless ``retry_errors``; then they are dropped from the file (rewritten
    atomically) so the retried image ends up with exactly one record.
    """
    if not os.path.exists(path):
        return set(), 0
    cut = repair(path)
    records = read_records(path)
    if retry_errors and any("error" in r for r in records):
        keep = [r for r in records if "error" not in r]
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(dumps(r) + "\n" for r in keep)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        records = keep
    return {r["path"] for r in records}, cut


class Journal:
    """Appends records to a JSONL file: line-buffered, fsynced every :data:`FSYNC_EVERY` records or
    :data:`FSYNC_SECONDS`, and on :meth:`close`."""

    def __init__(self, path: str, fsync_every: int = FSYNC_EVERY):
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        self.path = path
        self.fsync_every = max(1, int(fsync_every))
        self._f = open(path, "a", encoding="utf-8", buffering=1)
        self._pending = 0
        self._last_sync = time.monotonic()
        self.written = 0

    def write(self, record: Dict[str, Any]) -> None:
        # NOTE: one write call per record, newline included: a kill leaves at most a prefix of one line
        self._f.write(dumps(record) + "\n")
        self.written += 1
        self._pending += 1
        if self._pending >= self.fsync_every or time.monotonic() - self._last_sync >= FSYNC_SECONDS:
            self.sync()

    def sync(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._pending = 0
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if not self._f.closed:
            self.sync()
            self._f.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_parquet(records: Iterable[Dict[str, Any]], path: str) -> int:
    """Write records to a Parquet file (``parquet`` extra: pyarrow); returns the number of rows."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        from ..errors import MissingDependencyError

        raise MissingDependencyError("--out *.parquet needs pyarrow: pip install 'tinycrnn[parquet]'") from None
    f64 = pa.float64()
    schema = pa.schema([
        ("path", pa.string()), ("mode", pa.string()), ("model", pa.string()),
        ("width", pa.int64()), ("height", pa.int64()),
        ("lines", pa.list_(pa.struct([("text", pa.string()), ("confidence", f64),
                                      ("box", pa.list_(pa.list_(f64)))]))),
        ("timing_ms", pa.struct([("load", f64), ("detect", f64), ("recognise", f64), ("total", f64)])),
        ("error", pa.struct([("type", pa.string()), ("message", pa.string())])),
    ])
    rows = [{name: r.get(name) for name in schema.names} for r in records]
    table = pa.Table.from_pylist(rows, schema=schema)
    tmp = f"{path}.tmp-{os.getpid()}"
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return len(rows)
