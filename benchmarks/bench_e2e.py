"""Per-line recogniser latency: tinycrnn (numba and numpy kernels) next to onnxruntime on the same weights.

    python -m benchmarks.bench_e2e --threads 1 --runs 30 [--json]

One process, same random inputs for every engine, warm-up first, then min / median / max of
``--runs`` timed calls. The first call of each tinycrnn backend (JIT compile or cache load) is
timed on its own line, and so is a cold ``import + load + first line`` in fresh processes.
"""
import argparse
import json
import os
import subprocess
import sys
import time

from .machine import machine_info, set_threads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONNX = os.path.join(os.path.dirname(ROOT), "shared", "models", "english_g2.onnx")


def timeit(fn, runs, warmup=3):
    import numpy as np

    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    return float(np.min(ts)), float(np.median(ts)), float(np.max(ts))


def cold_start(threads):
    code = ("import time; t=time.perf_counter(); import tinycrnn; t1=time.perf_counter(); r=tinycrnn.Recognizer(); "
            "t2=time.perf_counter(); r.recognize('samples/hello_world.png'); t3=time.perf_counter(); "
            "print((t1-t)*1000, (t2-t1)*1000, (t3-t2)*1000)")
    env = dict(os.environ)
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    total = (time.perf_counter() - t) * 1000
    imp, load, first = map(float, out.stdout.split())
    return total, imp, load, first


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--widths", default="128,256,512,1024")
    ap.add_argument("--batch", type=int, default=8, help="also time a batch of this many 256-wide lines")
    ap.add_argument("--model", default="english_g2")
    ap.add_argument("--json", action="store_true", help="append results to benchmarks/results/<cpu>.jsonl")
    args = ap.parse_args(argv)
    set_threads(args.threads)
    import numpy as np

    import tinycrnn

    info = machine_info()
    print(f"# {info['cpu']}, {info['cores']} cores, python {info['python']}, numpy {info['numpy']}, "
          f"numba {info.get('numba')}, threads={args.threads}, runs={args.runs}, {info['date']}, git {info.get('git')}")
    total, imp, load, first = cold_start(args.threads)
    print(f"cold process (warm numba cache): total {total:.0f} ms = python start + import {imp:.0f} ms + load {load:.0f} ms"
          f" + first line {first:.0f} ms")
    engines = {}
    if os.path.exists(ONNX) and args.model == "english_g2":
        try:
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.intra_op_num_threads = args.threads
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(ONNX, so, providers=["CPUExecutionProvider"])
            engines["onnxruntime"] = lambda x: sess.run(None, {"input": x})[0]
        except ImportError:
            print("onnxruntime not installed (pip install -e .[bench]): skipped")
    for backend in ("numba", "numpy"):
        m = tinycrnn.load_model(args.model, backend=backend)
        x0 = np.zeros((1, m.channels, m.height, 64), np.float32)
        t = time.perf_counter()
        m.forward(x0)
        print(f"first call tinycrnn-{backend}: {(time.perf_counter() - t) * 1000:.0f} ms (JIT compile or cache load)")
        engines[f"tinycrnn-{backend}"] = m.forward
    rng = np.random.default_rng(0)
    shapes = [(1, w) for w in map(int, args.widths.split(","))] + [(args.batch, 256)]
    rows = []
    print(f"{'engine':<18} {'input':<16} {'min':>8} {'median':>8} {'max':>8}  ms   {'per line':>8}  vs ort")
    for b, w in shapes:
        x = (rng.random((b, 1, 64, w), dtype=np.float32) * 2 - 1).astype(np.float32)
        meds = {}
        for name, fn in engines.items():
            runs = args.runs if name != "tinycrnn-numpy" else max(5, args.runs // 4)
            lo, med, hi = timeit(lambda: fn(x), runs)
            meds[name] = med
            ratio = f"{med / meds['onnxruntime']:.2f}x" if "onnxruntime" in meds and name != "onnxruntime" else ""
            row = {"engine": name, "batch": b, "width": w, "min_ms": lo, "median_ms": med, "max_ms": hi}
            if ratio:
                row["vs_ort"] = med / meds["onnxruntime"]
            rows.append(row)
            print(f"{name:<18} {f'{b}x1x64x{w}':<16} {lo:8.2f} {med:8.2f} {hi:8.2f}      {med / b:8.2f}  {ratio}")
    if args.json:
        os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
        fn = os.path.join(ROOT, "benchmarks", "results", "".join(c if c.isalnum() else "_" for c in info["cpu"]) + ".jsonl")
        with open(fn, "a", encoding="utf-8") as f:
            f.write(json.dumps({"bench": "e2e", "machine": info, "threads": args.threads, "cold": {
                "total_ms": total, "import_ms": imp, "load_ms": load, "first_line_ms": first}, "rows": rows}) + "\n")
        print(f"appended to {fn}")


if __name__ == "__main__":
    main()
