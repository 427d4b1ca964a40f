"""The ``tinycrnn`` command: ``read`` images, ``inspect`` model files, ``eval`` accuracy on a dataset,
``bench`` latency (and more subcommands as they land).

Expected failures (bad images, bad model files) print one clear line on stderr and exit 2;
nothing here prints a traceback for user error.
"""
import argparse
import json
import os
import subprocess
import sys
from typing import List, Optional

from . import __version__
from .errors import TinyCRNNError


def _add_read(sub) -> None:
    p = sub.add_parser("read", help="read text from page images (or, with --line, single text lines)")
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, BMP, WebP, TIFF, ...)")
    p.add_argument("--model", default=None,
                   help="model name or .tcrnn path (default: the page model, ppocrv2_zh if installed; english_g2 with --line)")
    p.add_argument("--line", action="store_true", help="treat each image as one text line (no line detection)")
    p.add_argument("--json", action="store_true", help="same as --format json: one JSON object per image (lines, words, boxes)")
    p.add_argument("--draw", metavar="OUT.png", help="page mode: write the page with boxes and text drawn on it "
                   "(with several images, OUT-1.png, OUT-2.png, ...)")
    p.add_argument("--min-confidence", type=float, default=0.0, metavar="C", help="page mode: drop lines read below C")
    p.add_argument("--detector", choices=("auto", "db", "lines"), default="auto",
                   help="page mode: line detector: db (learned, for photos), lines (classical), auto (db when installed)")
    p.add_argument("--no-case", action="store_true",
                   help="page mode: keep the page model's letter case (no second reading of lower-case pages with english_g2)")
    p.add_argument("--backend", choices=("numba", "numpy"),
                   help="kernel backend (default: numba; a read of up to 8 images before `tinycrnn warmup` has "
                        "compiled its models uses numpy, saying so)")
    p.add_argument("--beam", type=int, metavar="N", help="beam search with width N instead of greedy")
    p.add_argument("--lexicon", metavar="FILE", help="snap to the most likely word of FILE (one per line)")
    p.add_argument("--allowlist", metavar="CHARS", help="only these characters may be output")
    p.add_argument("--blocklist", metavar="CHARS", help="these characters are never output")
    from .pdf.inputs import add_read_options
    from .readcmd import add_output_options

    add_output_options(p)
    add_read_options(p)
    p.set_defaults(func=_cmd_read)


def _decode_options(args) -> dict:
    opts = {}
    if args.beam is not None:
        opts.update(decoder="beam", beam_width=args.beam)
    if args.lexicon:
        with open(args.lexicon, encoding="utf-8") as f:
            opts["lexicon"] = [w.strip() for w in f if w.strip()]
    if args.allowlist:
        opts["allowlist"] = args.allowlist
    if args.blocklist:
        opts["blocklist"] = args.blocklist
    return opts


#: A read of at most this many images on a machine whose kernels are not compiled yet runs on the NumPy
#: twins: compiling costs 12-19 s once, and the twins take about 0.8 s more than compiled kernels on a 10-line
#: page (benchmarks/RESULTS.md, "First run": break-even after 15-25 pages), so larger reads compile.
COLD_TWIN_MAX_IMAGES = 8


def _cold_read_backend(args, model_paths: List[str]) -> Optional[str]:
    """The backend of this read: ``--backend`` or ``TINYCRNN_KERNELS`` if given; else the NumPy twins when the
    read is small and ``tinycrnn warmup`` has not compiled its models here (saying so once), else None (Numba)."""
    if args.backend or os.environ.get("TINYCRNN_KERNELS") or len(args.images) > COLD_TWIN_MAX_IMAGES:
        return args.backend
    from .kernels.warm_marks import is_warm

    if all(is_warm(p) for p in model_paths):
        return None
    if os.environ.get("TINYCRNN_QUIET", "") in ("", "0"):
        print("tinycrnn: the kernels are not compiled for this CPU yet, so this read runs on the NumPy kernels "
              "(no compile wait, slower per line). `tinycrnn warmup` compiles them once (10-20 s) for every later "
              "run; `--backend numba` compiles what this read needs now.", file=sys.stderr, flush=True)
    return "numpy"


def _cmd_read(args) -> int:
    from .readcmd import cmd_read

    return cmd_read(args, _cold_read_backend, _decode_options)


def _add_inspect(sub) -> None:
    p = sub.add_parser("inspect", help="print a model file's manifest summary")
    p.add_argument("model", nargs="?", default="english_g2")
    p.set_defaults(func=_cmd_inspect)


def _cmd_inspect(args) -> int:
    from .engine import load_model

    m = load_model(args.model, backend="numpy")
    man = m.manifest
    print(json.dumps({
        "name": m.name, "task": m.task, "path": m.path, "format_version": man["format_version"],
        "producer": man.get("producer"),
        "input": man["arch"]["input"], "classes": len(m.charset), "min_width": m.min_width,
        "layers": [f"{s['op']} {s.get('name', '')}".strip() for s in man["arch"]["layers"]],
        "preprocess": man["preprocess"], "decode": man["decode"], "quant": man.get("quant"),
    }, indent=2, ensure_ascii=False))
    return 0


def _add_warmup(sub) -> None:
    p = sub.add_parser("warmup", help="compile and cache every kernel the models can reach (image build, first boot)")
    p.add_argument("models", nargs="*", metavar="MODEL", help="model names or .tcrnn paths (default: every shipped model)")
    p.add_argument("--backend", choices=("numba", "numpy"), help="kernel backend (default: numba)")
    p.set_defaults(func=_cmd_warmup)


def _cmd_warmup(args) -> int:
    import os

    from .engine import shipped_models
    from .warmup import warm_model

    print(f"numba cache: {os.environ.get('NUMBA_CACHE_DIR') or '__pycache__ next to the package'}")
    for name in args.models or shipped_models():
        w = warm_model(name, args.backend)
        print(f"{w.model}: {w.compiled} kernels compiled, {w.seconds:.1f} s")
    return 0


def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="run the web page and REST API (needs the serve extra)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", default=None, help="recogniser model name or .tcrnn path (default: the page model)")
    p.add_argument("--threads", type=int, default=8, help="HTTP worker threads (requests in flight)")
    p.add_argument("--max-bytes", type=int, default=20 << 20, help="upload size limit in bytes")
    p.add_argument("--max-pixels", type=int, default=40_000_000, help="decoded image size limit in pixels")
    p.add_argument("--max-batch", type=int, default=16, help="most lines per micro-batch")
    p.add_argument("--max-wait-ms", type=float, default=5.0, help="how long a micro-batch waits to fill")
    p.add_argument("--max-queue", type=int, default=512, help="most lines waiting before 503 Overloaded")
    p.set_defaults(func=_cmd_serve)


def _cmd_serve(args) -> int:
    import logging

    try:
        import waitress
    except ImportError:
        print("tinycrnn serve needs the serve extra: pip install 'tinycrnn[serve]'", file=sys.stderr)
        return 2
    from .server.app import create_app

    _stop_on_sigterm()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(args.model, max_bytes=args.max_bytes, max_pixels=args.max_pixels, max_batch=args.max_batch,
                     max_wait_ms=args.max_wait_ms, max_queue=args.max_queue)
    name = app.extensions["tinycrnn"]["recognizer"].model.name
    print(f"tinycrnn serving {name} on http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    # NOTE: waitress spools bodies to disk past 1 MiB; its own cap only bounds that disk use. The
    # app enforces --max-bytes itself so oversized uploads get the JSON 413 error.
    waitress.serve(app, host=args.host, port=args.port, threads=args.threads, channel_timeout=30,
                   max_request_body_size=max(1 << 30, 4 * args.max_bytes), ident="tinycrnn")
    print("tinycrnn stopped", file=sys.stderr, flush=True)
    return 0


def _stop_on_sigterm() -> None:
    """Make SIGTERM (``podman stop``, ``docker stop``, systemd) stop ``serve`` the way Ctrl-C does.

    waitress ends its loop on SystemExit, gives busy worker threads up to 5 s and returns, so the
    command exits 0. Without a handler, Python as a container's PID 1 ignores SIGTERM and the
    container is killed after the stop timeout (10 s).
    """
    import signal

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def _add_eval(sub) -> None:
    p = sub.add_parser("eval", help="accuracy on labelled datasets (labels.tsv folders or the page format)")
    p.add_argument("datasets", nargs="+", metavar="DATASET",
                   help="a folder with labels.tsv (path<TAB>text) or pages.tsv, or a labels .tsv file")
    p.add_argument("--protocol", choices=("word", "line", "zh", "page"),
                   help="word: lower-case, keep [0-9a-z]; line: case-insensitive, whitespace collapsed; zh: NFKC, "
                        "no whitespace or '\u00b7'; page: detection + page tokens (default: from the dataset's README/labels)")
    p.add_argument("--model", default="english_g2", help="model name or .tcrnn path (default: english_g2)")
    p.add_argument("--backend", choices=("numba", "numpy"), help="kernel backend (default: numba)")
    p.add_argument("--decoder", choices=("greedy", "beam"), default="greedy", help="CTC decoder (default: greedy)")
    p.add_argument("--beam", type=int, metavar="N", help="beam width (implies --decoder beam)")
    p.add_argument("--out", metavar="PREDS.TSV", help="write per-item predictions here")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N items (pages) of each dataset")
    p.add_argument("--json", action="store_true", help="print the summaries as JSON instead of a table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--detector", choices=("auto", "db", "lines"), default="auto", help="page protocol: line detector")
    p.set_defaults(func=_cmd_eval)


def _cmd_eval(args) -> int:
    from .errors import DatasetError
    from .evaluate import evaluate_lines, evaluate_page_crops, evaluate_pages, get_page_reader, open_dataset
    from .evaluate.report import format_results, write_predictions
    from .recognizer import Recognizer

    if args.limit is not None and args.limit < 1:
        raise DatasetError(f"--limit must be a positive number, got {args.limit}")
    datasets = [open_dataset(d) for d in args.datasets]  # every dataset checked before any model work
    for ds in datasets:
        if args.protocol == "page" and ds.kind != "pages":
            raise DatasetError(f"{ds.name}: --protocol page needs a page dataset (pages.tsv), this one has labels.tsv")
    opts = {}
    if args.decoder == "beam" or args.beam is not None:
        opts = {"decoder": "beam", "beam_width": args.beam if args.beam is not None else 10}
    rec = Recognizer(args.model, backend=args.backend, **opts)
    import numpy as np

    rec.recognize(np.full((rec.spec.height, 4 * rec.spec.height), 255, np.uint8))  # JIT/cache load outside ms/line
    progress = not args.quiet
    results = []
    for ds in datasets:
        protocol = args.protocol or ds.protocol
        if ds.kind == "pages" and protocol == "page":
            reader = get_page_reader(rec, detector=args.detector)
            if reader is None:
                print(f"tinycrnn: {ds.name}: no page pipeline (tinycrnn.OCR) in this version; scoring the annotated "
                      "line crops with the line protocol instead", file=sys.stderr)
                results.append(evaluate_page_crops(ds, rec, "line", args.limit, progress))
            else:
                results.append(evaluate_pages(ds, reader, args.limit, progress))
        elif ds.kind == "pages":
            results.append(evaluate_page_crops(ds, rec, protocol, args.limit, progress))
        else:
            results.append(evaluate_lines(ds, rec, protocol, args.limit, progress))
    if args.json:
        for r in results:
            print(json.dumps(r.summary, ensure_ascii=False))
    else:
        desc = f"model {rec.model.name}, decoder {opts.get('decoder', 'greedy')}" + (
            f" (beam {opts['beam_width']})" if opts else "")
        print(f"# tinycrnn eval: {desc}")
        print(format_results(results))
    if args.out:
        n = write_predictions(args.out, results)
        print(f"wrote {n} predictions to {args.out}", file=sys.stderr)
    return 0


def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="per-line latency by stage, first call, peak RSS; --compare runs peers")
    p.add_argument("images", nargs="*", help="line images (default: the samples/ folder)")
    p.add_argument("--model", default="english_g2", help="model name or .tcrnn path (default: english_g2)")
    p.add_argument("--backend", choices=("numba", "numpy"), help="kernel backend (default: numba)")
    p.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/Numba and peer threads (default: 1)")
    p.add_argument("--runs", type=int, default=20, help="timed passes over the images (default: 20)")
    p.add_argument("--warmup", type=int, default=2, help="untimed passes first (default: 2)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    p.add_argument("--compare", action="store_true",
                   help="also run the same weights in onnxruntime, PyTorch and cv2.dnn (bench extra, source checkout)")
    p.add_argument("--onnx", metavar="PATH", help="ONNX file of the same weights for --compare "
                   "(default: <model>.onnx in $TINYCRNN_SHARED/models if present, else exported with torch)")
    p.add_argument("--widths", default="128,192,256,384,512,768,1024", help="random-input widths timed by --compare")
    p.add_argument("--pages", action="store_true", help="the images are whole pages: time tinycrnn.OCR by stage "
                   "(preprocess, detect, recognise, decode)")
    p.add_argument("--plot", metavar="DIR", help="write stages.png (and latency_vs_width.png with --compare) to DIR")
    p.set_defaults(func=_cmd_bench)


_BENCH_CHILD = "TINYCRNN_BENCH_CHILD"


def _cmd_bench(args) -> int:
    from .bench import thread_env

    if args.threads < 1 or args.runs < 1 or args.warmup < 0:
        print("tinycrnn: bench: --threads and --runs must be >= 1, --warmup >= 0", file=sys.stderr)
        return 2
    if os.environ.get(_BENCH_CHILD) != str(args.threads):
        # NOTE: thread pools read their variables when numpy/numba first load, so the benchmark
        # runs in a child process whose environment pins them; this process sets nothing.
        env = thread_env(args.threads)
        env[_BENCH_CHILD] = str(args.threads)
        return subprocess.call([sys.executable, "-m", "tinycrnn", *args.argv], env=env)
    from .bench import default_images, format_bench, public, run_bench
    from .bench_compare import format_compare, plot, run_compare

    images = args.images or default_images()
    if args.pages:
        from .bench import format_page_bench, run_page_bench

        pres = run_page_bench(images, args.model, runs=args.runs, warmup=args.warmup, backend=args.backend)
        print(json.dumps(pres, indent=1, ensure_ascii=False) if args.json else format_page_bench(pres))
        return 0
    res = run_bench(images, args.model, runs=args.runs, warmup=args.warmup, backend=args.backend)
    if not args.json:
        print(format_bench(res), flush=True)
    cmp = None
    if args.compare:
        widths = [int(w) for w in args.widths.split(",") if w.strip()]
        log = None if args.json else (lambda s: print(s, file=sys.stderr, flush=True))
        cmp = run_compare(res, args.threads, args.runs, widths, onnx_path=args.onnx, log=log)
        if not args.json:
            print()
            print(format_compare(cmp))
    if args.plot:
        for p in plot(res, cmp, args.plot):
            print(f"wrote {p}", file=sys.stderr)
    if args.json:
        out = public(res)
        if cmp:
            out["compare"] = cmp
        print(json.dumps(out, indent=1, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="tinycrnn", description="A tiny CRNN OCR engine for CPUs (NumPy + Numba).")
    ap.add_argument("--version", action="version", version=f"tinycrnn {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    _add_read(sub)
    _add_inspect(sub)
    _add_serve(sub)
    _add_warmup(sub)
    _add_eval(sub)
    _add_bench(sub)
    from .batch.cli import add_parser as _add_batch

    _add_batch(sub)
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "func", None):
        ap.print_help()
        return 2
    try:
        return args.func(args)
    except TinyCRNNError as exc:
        print(f"tinycrnn: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"tinycrnn: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
