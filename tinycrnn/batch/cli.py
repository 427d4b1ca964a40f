"""``tinycrnn batch``: the command-line face of :func:`tinycrnn.batch.run` (and of the Ray path).

Owns its options, the progress line and the interrupt policy (Ctrl-C or SIGTERM: stop the workers,
keep every record written, exit 130), so ``tinycrnn/cli.py`` only registers it.
"""
import json
import signal
import sys
import time
from typing import Optional, TextIO

EPILOG = """Records are written in completion order (each carries its path); --ordered writes them in input
order. Rerunning with the same --out skips the paths it already holds (error records too, unless
--retry-errors), so an interrupted run continues where it stopped."""


def add_parser(sub) -> None:
    p = sub.add_parser("batch", help="read many images with one process per core, into a resumable JSONL file",
                       description="Read many images with one single-threaded process per core.", epilog=EPILOG)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image files, folders (recursive), globs ('scans/**/*.jpg'), or @list.txt / list.txt")
    p.add_argument("--out", metavar="FILE", help="results file, .jsonl (resumable) or .parquet (parquet extra; "
                   "keeps FILE.jsonl as its journal); default: JSON lines on stdout, no resume")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes (default: the cores available)")
    p.add_argument("--mode", choices=("page", "line"), default="page", help="page: detect lines then read them "
                   "(default); line: every image is one text line")
    p.add_argument("--model", default=None, help="model name or .tcrnn path (default: the page model; english_g2 "
                   "in line mode)")
    p.add_argument("--min-confidence", type=float, default=0.0, metavar="C", help="page mode: drop lines below C")
    p.add_argument("--no-case", action="store_true", help="page mode: no second reading of lower-case pages")
    p.add_argument("--beam", type=int, metavar="N", help="beam search with width N instead of greedy")
    p.add_argument("--lexicon", metavar="FILE", help="snap to the most likely word of FILE (one per line)")
    p.add_argument("--allowlist", metavar="CHARS", help="only these characters may be output")
    p.add_argument("--blocklist", metavar="CHARS", help="these characters are never output")
    p.add_argument("--ordered", action="store_true", help="write records in input order (holds early ones back)")
    p.add_argument("--retry-errors", action="store_true", help="read again the images --out has error records for")
    p.add_argument("--chunksize", type=int, default=1, metavar="K", help="paths sent to a worker at once (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress line and no summary on stderr")
    p.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster (ray extra): 'auto', or HOST:PORT of its "
                   "head; --workers actors of one CPU each (default: the cluster's CPUs less one)")
    p.set_defaults(func=run_command)


class ProgressLine:
    """``done/total  images/s  lines/s  eta`` on one ``\\r``-updated stderr line: TTY only, 5 times a second."""

    def __init__(self, total: int, stream: TextIO, enabled: bool):
        self.total, self.stream = total, stream
        self.enabled = enabled and getattr(stream, "isatty", lambda: False)()
        self.t0, self.lines0 = time.perf_counter(), 0
        self.last = 0.0

    def update(self, stats) -> None:
        """Called after each record; rates count from the first record, so worker start-up does not skew them."""
        now = time.perf_counter()
        if stats.done == 1:
            self.t0, self.lines0 = now, stats.lines
        if not self.enabled or (now - self.last < 0.2 and stats.done < self.total):
            return
        self.last = now
        dt = now - self.t0
        err = f"  {stats.errors} errors" if stats.errors else ""
        speed = ""
        if stats.done > 1 and dt > 0.5:
            rate = (stats.done - 1) / dt
            eta = int((self.total - stats.done) / rate)
            speed = (f"  {rate:.2f} images/s  {(stats.lines - self.lines0) / dt:.1f} lines/s  "
                     f"eta {eta // 3600}:{eta // 60 % 60:02d}:{eta % 60:02d}")
        self.stream.write(f"\rbatch {stats.done}/{self.total}{speed}{err} \x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _sigterm_as_interrupt(signum, frame):
    raise KeyboardInterrupt


def run_command(args) -> int:
    from ..cli import _decode_options
    from .records import read_records, write_parquet
    from .runner import RunStats, run

    if args.workers is not None and args.workers < 1 or args.chunksize < 1:
        print("tinycrnn: batch: --workers and --chunksize must be >= 1", file=sys.stderr)
        return 2
    parquet = bool(args.out and args.out.lower().endswith(".parquet"))
    if parquet:
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            print("tinycrnn: --out *.parquet needs pyarrow: pip install 'tinycrnn[parquet]'", file=sys.stderr)
            return 2
    journal = args.out + ".jsonl" if parquet else args.out
    opts = dict(mode=args.mode, model=args.model, decode_options=_decode_options(args), case=not args.no_case,
                min_confidence=args.min_confidence, ordered=args.ordered, retry_errors=args.retry_errors)
    stats = RunStats()
    if args.ray:
        import logging

        from .ray import run_on_ray

        logging.getLogger("ray.data").setLevel(logging.WARNING)  # one line per dataset run is Ray's INFO

        records = run_on_ray(args.inputs, address=args.ray, out=journal, actors=args.workers, stats=stats, **opts)
    else:
        records = run(args.inputs, out=journal, workers=args.workers, chunksize=args.chunksize, stats=stats, **opts)
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    bar: Optional[ProgressLine] = None
    try:
        for rec in records:
            if bar is None:
                bar = ProgressLine(stats.total, sys.stderr, not args.quiet)
            if journal is None:
                sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
            bar.update(stats)
    except KeyboardInterrupt:
        records.close()
        if bar:
            bar.close()
        where = f"{journal}" if journal else "stdout"
        print(f"tinycrnn batch: interrupted; {stats.done} new records kept in {where}"
              + ("; rerun the same command to continue" if journal else ""), file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    if bar:
        bar.close()
    if parquet:
        n = write_parquet(read_records(journal), args.out)
        if not args.quiet:
            print(f"tinycrnn batch: wrote {n} rows to {args.out} (journal: {journal})", file=sys.stderr)
    if not args.quiet:
        skipped = f", {stats.skipped} already in {args.out}" if stats.skipped else ""
        rate = f": {stats.done / stats.seconds:.2f} images/s, {stats.lines / stats.seconds:.1f} lines/s" \
            if stats.seconds > 0 and stats.done else ""
        restarts = f"; {stats.restarts} worker(s) died and were replaced" if stats.restarts else ""
        print(f"tinycrnn batch: {stats.done} images ({stats.errors} errors{skipped}), {stats.lines} lines in "
              f"{stats.seconds:.1f} s{rate}{restarts}", file=sys.stderr)
    return 0
