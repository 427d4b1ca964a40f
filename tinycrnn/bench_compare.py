"""``tinycrnn bench --compare``: the same weights in onnxruntime, PyTorch and OpenCV's cv2.dnn beside tinycrnn,
and the ``--plot`` figures.

The peer engines live in ``benchmarks/peers.py`` (a source checkout, bench extra) and are imported only here.
"""
import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from .bench import _ROOT, DEFAULT_WIDTHS, LINE_STAGES, summarize
from .errors import MissingDependencyError

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
