"""``tinycrnn bench``: per-line latency split by stage, first-call cost, peak RSS, model size;
with ``--compare``, the same weights in onnxruntime, PyTorch and OpenCV's cv2.dnn side by side.

The timing loop lives here; ``--compare`` and ``--plot`` live in :mod:`tinycrnn.bench_compare`, whose peer
engines come from ``benchmarks/peers.py`` (a source checkout, bench extra). Nothing here sets thread
counts: the CLI runs the benchmark in a child process with the thread variables set.
"""
import importlib.util
import os
import resource
import statistics
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from .errors import TinyCRNNError

#: Thread-pool variables a benchmark pins (read by BLAS/OpenMP/Numba when they first load).
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
#: Per-line stages, in order. ``detect`` joins them for pages once a page pipeline exists.
LINE_STAGES = ("load", "preprocess", "forward", "decode")
#: Synthetic input widths timed by ``--compare`` (1 x C x H x W random inputs).
DEFAULT_WIDTHS = (128, 192, 256, 384, 512, 768, 1024)

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def thread_env(threads: int, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """A copy of ``base`` (default ``os.environ``) with every thread-pool variable set to ``threads``."""
    env = dict(os.environ if base is None else base)
    for var in THREAD_VARS:
        env[var] = str(threads)
    return env


def default_images() -> List[str]:
    """The shipped sample images (``samples/*.png``, installed as ``tinycrnn.samples``): the default bench inputs."""
    spec = importlib.util.find_spec("tinycrnn.samples")
    d = spec.submodule_search_locations[0] if spec and spec.submodule_search_locations else "tinycrnn/samples"
    imgs = sorted(os.path.join(d, f) for f in os.listdir(d) if f.lower().endswith((".png", ".jpg", ".jpeg"))) \
        if os.path.isdir(d) else []
    if not imgs:
        raise TinyCRNNError(f"no images given and no sample images at {d}; pass image paths to bench")
    return imgs


def summarize(ms: Sequence[float]) -> Dict[str, float]:
    """min / median / p90 / max (p90 by linear interpolation) of a list of milliseconds."""
    s = sorted(ms)
    if not s:
        return {"min": 0.0, "median": 0.0, "p90": 0.0, "max": 0.0, "n": 0}
    k = 0.9 * (len(s) - 1)
    lo = int(k)
    p90 = s[lo] + (s[min(lo + 1, len(s) - 1)] - s[lo]) * (k - lo)
    return {"min": s[0], "median": statistics.median(s), "p90": p90, "max": s[-1], "n": len(s)}


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024.0


class LineTimer:
    """Runs one line through the Recognizer's own steps with a clock around each stage."""

    def __init__(self, rec):
        from .decode import softmax
        from .preprocess import line_ratio, pad_lines, resize_line, target_width

        self.rec = rec
        self._softmax = softmax
        self._prep = (line_ratio, pad_lines, resize_line, target_width)

    def prepare(self, img):
        line_ratio, pad_lines, resize_line, target_width = self._prep
        spec = self.rec.spec
        x = resize_line(img, spec, self.rec.model.backend)
        w = target_width([line_ratio(img, spec)], [x.shape[2]], spec)
        return pad_lines([x], w, spec)

    def run(self, path) -> tuple:
        """Returns ``({stage: ms}, decoded text, model input shape)``."""
        clock = time.perf_counter
        t0 = clock()
        img = self.rec.load(path)
        t1 = clock()
        x = self.prepare(img)
        t2 = clock()
        y = self.rec.model.forward(x)
        t3 = clock()
        probs = y if self.rec.model.output_kind == "probs" else self._softmax(y)
        text = self.rec.decode(probs[0]).text
        t4 = clock()
        ms = {"load": t1 - t0, "preprocess": t2 - t1, "forward": t3 - t2, "decode": t4 - t3}
        return {k: v * 1000.0 for k, v in ms.items()}, text, tuple(x.shape)


def _machine() -> Dict[str, Any]:
    import platform

    import numpy as np

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__}
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:
        pass
    return info


def run_bench(images: Sequence[str], model: str = "english_g2", runs: int = 10, warmup: int = 2,
              backend: Optional[str] = None, decode_options: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Time every line of ``images`` through load / preprocess / forward / decode.

    Order: model load (timed), the first line alone (JIT compile or Numba cache load), then
    ``warmup`` untimed passes over all images, then ``runs`` timed passes.

    Returns:
        A JSON-able dict: ``machine``, ``model`` (name, path, bytes), ``load_ms``,
        ``first_call`` (ms, image), ``lines`` (per image: size, model input, text, stage stats),
        ``all_lines`` (stage stats pooled over images), ``peak_rss_mb``.
    """
    from . import __version__
    from .recognizer import Recognizer

    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    t = time.perf_counter()
    rec = Recognizer(model, backend=backend, **(decode_options or {}))
    load_ms = (time.perf_counter() - t) * 1000.0
    timer = LineTimer(rec)
    first, text0, _ = timer.run(images[0])
    for _ in range(warmup):
        for p in images:
            timer.run(p)
    per: Dict[str, Dict[str, List[float]]] = {p: {s: [] for s in LINE_STAGES + ("total",)} for p in images}
    meta: Dict[str, Dict[str, Any]] = {}
    for _ in range(max(runs, 1)):
        for p in images:
            ms, text, shape = timer.run(p)
            for s in LINE_STAGES:
                per[p][s].append(ms[s])
            per[p]["total"].append(sum(ms.values()))
            meta[p] = {"text": text, "input": list(shape)}
    lines = []
    for p in images:
        img = rec.load(p)
        lines.append({"image": p, "height": int(img.shape[0]), "width": int(img.shape[1]), **meta[p],
                      "stages": {s: summarize(v) for s, v in per[p].items()}})
    pooled = {s: summarize([v for p in images for v in per[p][s]]) for s in LINE_STAGES + ("total",)}
    return {
        "tinycrnn": __version__, "machine": _machine(), "threads": int(threads) if threads else None,
        "backend": rec.model.backend, "runs": runs, "warmup": warmup,
        "model": {"name": rec.model.name, "path": rec.model.path, "bytes": os.path.getsize(rec.model.path)},
        "load_ms": load_ms, "first_call": {"ms": sum(first.values()), "stages": first, "image": images[0], "text": text0},
        "lines": lines, "all_lines": pooled, "peak_rss_mb": peak_rss_mb(), "rec": rec, "timer": timer,
    }


def run_page_bench(images: Sequence[str], model: str = "english_g2", runs: int = 3, warmup: int = 1,
                   backend: Optional[str] = None) -> Dict[str, Any]:
    """Time whole pages through ``tinycrnn.OCR``: total and each stage the page result reports
    in ``timings`` (preprocess, detect, recognise, decode, ...)."""
    import tinycrnn

    try:
        ocr_cls = getattr(tinycrnn, "OCR")
    except (AttributeError, ImportError):
        raise TinyCRNNError("bench --pages needs the page pipeline (tinycrnn.OCR), absent from this version") from None
    from .recognizer import Recognizer

    t = time.perf_counter()
    rec = Recognizer(model, backend=backend)
    ocr = ocr_cls(model=rec)
    load_ms = (time.perf_counter() - t) * 1000.0
    t = time.perf_counter()
    first = ocr.read(images[0])
    first_ms = (time.perf_counter() - t) * 1000.0
    for _ in range(warmup):
        for p in images:
            ocr.read(p)
    pages = []
    for p in images:
        per: Dict[str, List[float]] = {}
        n_lines = 0
        for _ in range(max(runs, 1)):
            t = time.perf_counter()
            out = ocr.read(p)
            total = (time.perf_counter() - t) * 1000.0
            for k, v in getattr(out, "timings", {}).items():
                per.setdefault(k, []).append(float(v))
            per.setdefault("total", []).append(total)
            n_lines = len(getattr(out, "lines", out))
        pages.append({"image": p, "lines": n_lines, "stages": {k: summarize(v) for k, v in per.items()}})
    return {"model": {"name": rec.model.name, "path": rec.model.path, "bytes": os.path.getsize(rec.model.path)},
            "load_ms": load_ms, "first_call": {"ms": first_ms, "image": images[0],
                                               "lines": len(getattr(first, "lines", first))},
            "pages": pages, "runs": runs, "warmup": warmup, "peak_rss_mb": peak_rss_mb(), "machine": _machine()}


def format_page_bench(res: Dict[str, Any]) -> str:
    out = [f"# page bench: model {res['model']['name']}, {res['runs']} runs after {res['warmup']} warm-up passes",
           f"model + page reader load                  {res['load_ms']:9.1f} ms",
           f"first page (JIT compile or cache load)    {res['first_call']['ms']:9.1f} ms",
           "", f"{'page':<24} {'lines':>5} {'stage':<11} {'min':>8} {'median':>8} {'p90':>8} {'max':>8}  ms"]
    for pg in res["pages"]:
        for k, (stage, st) in enumerate(pg["stages"].items()):
            out.append(f"{os.path.basename(pg['image']) if k == 0 else '':<24} {pg['lines'] if k == 0 else '':>5} "
                       f"{stage:<11} {st['min']:8.1f} {st['median']:8.1f} {st['p90']:8.1f} {st['max']:8.1f}")
    out.append(f"peak RSS {res['peak_rss_mb']:.0f} MiB")
    return "\n".join(out)


def format_bench(res: Dict[str, Any]) -> str:
    """The human-readable report of :func:`run_bench` (benchncnn-style ``min median p90 max ms``)."""
    m, mod = res["machine"], res["model"]
    out = [f"# tinycrnn {res['tinycrnn']} bench: {m['cpu']}, {m['cores']} cores, {m['os']}, python {m['python']}, "
           f"numpy {m['numpy']}, numba {m.get('numba', '-')}",
           f"# model {mod['name']} ({mod['bytes'] / 1e6:.1f} MB, {mod['path']}), backend {res['backend']}, "
           f"threads {res['threads'] or 'unpinned'}, {res['runs']} runs after {res['warmup']} warm-up passes",
           f"model load                                {res['load_ms']:9.1f} ms",
           f"first line (JIT compile or cache load)    {res['first_call']['ms']:9.1f} ms  "
           f"(forward {res['first_call']['stages']['forward']:.1f} ms, {os.path.basename(res['first_call']['image'])})",
           "",
           f"{'image':<24} {'input':<14} {'stage':<11} {'min':>8} {'median':>8} {'p90':>8} {'max':>8}  ms"]
    for ln in res["lines"]:
        name = os.path.basename(ln["image"])
        shape = "x".join(str(v) for v in ln["input"])
        for k, s in enumerate(LINE_STAGES + ("total",)):
            st = ln["stages"][s]
            out.append(f"{name if k == 0 else '':<24} {shape if k == 0 else '':<14} {s:<11} {st['min']:8.2f} "
                       f"{st['median']:8.2f} {st['p90']:8.2f} {st['max']:8.2f}")
    out.append("")
    for s in LINE_STAGES + ("total",):
        st = res["all_lines"][s]
        out.append(f"{'all lines' if s == 'load' else '':<24} {'':<14} {s:<11} {st['min']:8.2f} {st['median']:8.2f} "
                   f"{st['p90']:8.2f} {st['max']:8.2f}")
    out.append(f"peak RSS {res['peak_rss_mb']:.0f} MiB")
    return "\n".join(out)


def public(res: Dict[str, Any]) -> Dict[str, Any]:
    """``res`` without the live objects, for JSON output."""
    return {k: v for k, v in res.items() if k not in ("rec", "timer")}
