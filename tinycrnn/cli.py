"""The ``tinycrnn`` command: ``read`` images, ``inspect`` model files (and more subcommands as they land).

Expected failures (bad images, bad model files) print one clear line on stderr and exit 2;
nothing here prints a traceback for user error.
"""
import argparse
import json
import sys
import time
from typing import List, Optional

from . import __version__
from .errors import TinyCRNNError


def _add_read(sub) -> None:
    p = sub.add_parser("read", help="read text from images of text lines")
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, BMP, WebP, TIFF, ...)")
    p.add_argument("--model", default="english_g2", help="model name or .tcrnn path (default: english_g2)")
    p.add_argument("--json", action="store_true", help="print one JSON object per image")
    p.add_argument("--backend", choices=("numba", "numpy"), help="kernel backend (default: numba)")
    p.add_argument("--beam", type=int, metavar="N", help="beam search with width N instead of greedy")
    p.add_argument("--lexicon", metavar="FILE", help="snap to the most likely word of FILE (one per line)")
    p.add_argument("--allowlist", metavar="CHARS", help="only these characters may be output")
    p.add_argument("--blocklist", metavar="CHARS", help="these characters are never output")
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


def _cmd_read(args) -> int:
    from .recognizer import Recognizer

    rec = Recognizer(args.model, backend=args.backend, **_decode_options(args))
    status = 0
    for path in args.images:
        t0 = time.perf_counter()
        try:
            res = rec.recognize(path)
        except TinyCRNNError as exc:
            print(f"tinycrnn: {exc}", file=sys.stderr)
            status = 2
            continue
        ms = (time.perf_counter() - t0) * 1000
        if args.json:
            print(json.dumps({"image": path, "text": res.text, "confidence": round(res.confidence, 6),
                              "char_confidences": [round(c, 6) for c in res.char_confidences],
                              "total_time_ms": round(ms, 2)}, ensure_ascii=False))
        else:
            print(res.text)
    return status


def _add_inspect(sub) -> None:
    p = sub.add_parser("inspect", help="print a model file's manifest summary")
    p.add_argument("model", nargs="?", default="english_g2")
    p.set_defaults(func=_cmd_inspect)


def _cmd_inspect(args) -> int:
    from .engine import load_model

    m = load_model(args.model, backend="numpy")
    man = m.manifest
    print(json.dumps({
        "name": m.name, "path": m.path, "format_version": man["format_version"], "producer": man.get("producer"),
        "input": man["arch"]["input"], "classes": len(m.charset), "min_width": m.min_width,
        "layers": [f"{s['op']} {s.get('name', '')}".strip() for s in man["arch"]["layers"]],
        "preprocess": man["preprocess"], "decode": man["decode"], "quant": man.get("quant"),
    }, indent=2, ensure_ascii=False))
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

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(args.model, max_bytes=args.max_bytes, max_pixels=args.max_pixels, max_batch=args.max_batch,
                     max_wait_ms=args.max_wait_ms, max_queue=args.max_queue)
    name = app.extensions["tinycrnn"]["recognizer"].model.name
    print(f"tinycrnn serving {name} on http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    # NOTE: waitress spools bodies to disk past 1 MiB; its own cap only bounds that disk use. The
    # app enforces --max-bytes itself so oversized uploads get the JSON 413 error.
    waitress.serve(app, host=args.host, port=args.port, threads=args.threads, channel_timeout=30,
                   max_request_body_size=max(1 << 30, 4 * args.max_bytes), ident="tinycrnn")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="tinycrnn", description="A tiny CRNN OCR engine for CPUs (NumPy + Numba).")
    ap.add_argument("--version", action="version", version=f"tinycrnn {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    _add_read(sub)
    _add_inspect(sub)
    _add_serve(sub)
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
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
