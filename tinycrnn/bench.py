"""``tinycrnn bench``: per-line latency split by stage, first-call cost, peak RSS, model size;
with ``--compare``, the same weights in onnxruntime, PyTorch and OpenCV's cv2.dnn side by side.

The timing loop lives here; the peer engines live in ``benchmarks/peers.py`` (a source
checkout, bench extra) and are imported only for ``--compare``. Nothing here sets thread
counts: the CLI runs the benchmark in a child process with the thread variables set.
"""
import importlib.util
import os
import resource
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from .errors import MissingDependencyError, TinyCRNNError

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


# --- --compare: peers on the same weights and inputs ----------------------------------------------


def load_peers_module():
    """``benchmarks/peers.py`` from the source checkout (imported only for ``--compare``)."""
    import importlib
    import importlib.util

    try:
        return importlib.import_module("benchmarks.peers")
    except ImportError:
        pass
    path = os.path.join(_ROOT, "benchmarks", "peers.py")
    if not os.path.isfile(path):
        raise MissingDependencyError("bench --compare needs benchmarks/peers.py from a tinycrnn source checkout "
                                     "and the bench extra: pip install -e '.[bench]'")
    spec = importlib.util.spec_from_file_location("tinycrnn_bench_peers", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def time_call(fn: Callable[[], Any], runs: int, warmup: int = 2) -> Dict[str, float]:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(max(runs, 1)):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000.0)
    return summarize(ts)


def run_compare(res: Dict[str, Any], threads: int, runs: int, widths: Sequence[int] = DEFAULT_WIDTHS,
                batch: int = 8, onnx_path: Optional[str] = None, log: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    """Time the forward pass of tinycrnn and each available peer on the same inputs: every
    bench image as preprocessed by tinycrnn, random ``1 x C x H x W`` inputs for ``widths``, and
    a ``batch x C x H x 256`` batch. Also checks each peer's logits against tinycrnn's."""
    import numpy as np

    peers_mod = load_peers_module()
    rec, timer = res["rec"], res["timer"]
    model = rec.model
    engines, notes = peers_mod.make_peers(model.path, threads=threads, onnx_path=onnx_path)
    engines = {"tinycrnn": model.forward, **engines}
    inputs = []
    for ln in res["lines"]:
        inputs.append((os.path.basename(ln["image"]), timer.prepare(rec.load(ln["image"]))))
    rng = np.random.default_rng(0)
    for w in widths:
        inputs.append((f"random w={w}", (rng.random((1, model.channels, model.height, w), dtype=np.float32) * 2 - 1)))
    if batch > 1:
        inputs.append((f"random {batch}x w=256",
                       (rng.random((batch, model.channels, model.height, 256), dtype=np.float32) * 2 - 1)))
    rows = []
    for name, x in inputs:
        ref = model.forward(x)
        for eng, fn in engines.items():
            row = {"input": name, "shape": list(x.shape), "engine": eng}
            try:
                y = np.asarray(fn(x))
                row["max_abs_diff"] = float(np.max(np.abs(y - ref))) if y.shape == ref.shape else None
                row.update(time_call(lambda: fn(x), runs))
            except Exception as exc:  # noqa: BLE001 - a peer failing on one input is reported, not fatal
                row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
            if log:
                log(f"  {name:<22} {eng:<14} " + (f"{row['median']:8.2f} ms" if "median" in row else row["error"]))
            rows.append(row)
    return {"engines": list(engines), "notes": notes, "rows": rows, "threads": threads, "runs": runs}


def format_compare(cmp: Dict[str, Any]) -> str:
    """Median ms per input and engine, then each engine's time as a multiple of tinycrnn's."""
    engines = cmp["engines"]
    by = {(r["input"], r["engine"]): r for r in cmp["rows"]}
    names = list(dict.fromkeys(r["input"] for r in cmp["rows"]))
    shapes = {r["input"]: "x".join(map(str, r["shape"])) for r in cmp["rows"]}
    head = f"{'input':<22} {'shape':<14}" + "".join(f" {e:>13}" for e in engines)
    out = [f"forward pass, median ms ({cmp['runs']} runs, {cmp['threads']} thread(s)); per line for batches", head]
    for n in names:
        b = int(shapes[n].split("x")[0])
        cells = []
        for e in engines:
            r = by.get((n, e), {})
            cells.append(f" {r['median'] / b:13.2f}" if "median" in r else f" {'failed':>13}")
        out.append(f"{n:<22} {shapes[n]:<14}" + "".join(cells))
    for stat, title in (("median", "peer time / tinycrnn time (above 1: tinycrnn is faster)"),
                        ("min", "the same ratio on the fastest run (min; less sensitive to other load on a shared machine)")):
        out += ["", title, head]
        for n in names:
            base = by.get((n, "tinycrnn"), {}).get(stat)
            cells = []
            for e in engines:
                r = by.get((n, e), {})
                cells.append(f" {r[stat] / base:12.2f}x" if stat in r and base else f" {'-':>13}")
            out.append(f"{n:<22} {shapes[n]:<14}" + "".join(cells))
    diffs = {}
    for r in cmp["rows"]:
        if r.get("max_abs_diff") is not None and r["engine"] != "tinycrnn":
            diffs[r["engine"]] = max(diffs.get(r["engine"], 0.0), r["max_abs_diff"])
    if diffs:
        out.append("max |logit - tinycrnn logit| over all inputs: " + ", ".join(f"{e} {d:.1e}" for e, d in diffs.items()))
    failed = sorted({f"{r['engine']} on {r['input']}: {r['error']}" for r in cmp["rows"] if "error" in r})
    out += [f"failed: {f}" for f in failed[:6]]
    out += [f"note: {n}" for n in cmp["notes"]]
    return "\n".join(out)


def plot(res: Dict[str, Any], cmp: Optional[Dict[str, Any]], outdir: str) -> List[str]:
    """Write ``latency_vs_width.png`` (median forward ms vs input width per engine, batch 1) and
    ``stages.png`` (tinycrnn median ms per stage per bench image). Needs matplotlib (bench extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("plots need matplotlib: pip install -e '.[bench]'") from None
    os.makedirs(outdir, exist_ok=True)
    written = []
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
    names = [f"{os.path.basename(ln['image'])}\nW={ln['input'][-1]}" for ln in res["lines"]]
    stages = LINE_STAGES + ("total",)
    bw = 0.8 / len(stages)
    for k, s in enumerate(stages):
        vals = [ln["stages"][s]["median"] for ln in res["lines"]]
        xs = [i + (k - (len(stages) - 1) / 2) * bw for i in range(len(names))]
        bars = ax.bar(xs, vals, bw, label=s)
        for b, v in zip(bars, vals):
            ax.text(b.get_x() + b.get_width() / 2, v, f"{v:.2g}" if v < 10 else f"{v:.0f}", ha="center", va="bottom",
                    fontsize=6)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("median ms per line (log scale)")
    ax.set_title(f"tinycrnn {res['model']['name']}: per-line stages ({res['threads'] or '?'} thread, {res['backend']})")
    ax.legend(fontsize=8, ncol=len(stages), loc="upper left")
    ax.set_ylim(top=ax.get_ylim()[1] * 8)
    fig.tight_layout()
    p = os.path.join(outdir, "stages.png")
    fig.savefig(p)
    plt.close(fig)
    written.append(p)
    if cmp:
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        for e in cmp["engines"]:
            pts = sorted((r["shape"][3], r["median"], r["min"]) for r in cmp["rows"] if r["engine"] == e
                         and r["shape"][0] == 1 and r["input"].startswith("random") and "median" in r)
            if pts:
                line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{e} (median)")
                ax.plot([p[0] for p in pts], [p[2] for p in pts], ls=":", color=line.get_color(), lw=1)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("input width W (random 1 x C x H x W input)")
        ax.set_ylabel("forward ms (solid: median, dotted: min)")
        ax.set_title(f"{res['model']['name']} forward latency vs line width ({cmp['threads']} thread)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        p = os.path.join(outdir, "latency_vs_width.png")
        fig.savefig(p)
        plt.close(fig)
        written.append(p)
    return written


def public(res: Dict[str, Any]) -> Dict[str, Any]:
    """``res`` without the live objects, for JSON output."""
    return {k: v for k, v in res.items() if k not in ("rec", "timer")}
