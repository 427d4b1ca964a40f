"""Cold start: a fresh ``python -c`` process, from interpreter start to the first recognised line.

    python -m benchmarks.bench_coldstart [--runs 5] [--image samples/hello_world.png] [--explain] [--kernels] [--json]
    python -m benchmarks.bench_coldstart --cli [--runs 3]   # `tinycrnn read` as a new user runs it

Scenarios, each the median of ``--runs`` fresh processes (one thread everywhere):
  python            ``python -c pass`` (the interpreter alone)
  import tinycrnn   ``import tinycrnn`` alone
  tinycrnn, empty numba cache   import + load model + first line, NUMBA_CACHE_DIR a new empty dir
  tinycrnn, warm numba cache    the same with a cache dir filled by an earlier process
  tinycrnn, numpy kernels       the same with TINYCRNN_KERNELS=numpy (no Numba at all)
  onnxruntime       import onnxruntime + cv2, load the same weights' ONNX, preprocess, run, greedy CTC
Wall time is measured from just before the parent spawns the child to the child's clock
reading after the first line, so it includes interpreter start-up. ``--explain`` adds where the
warm path spends its time: ``-X importtime`` top modules and per-stage timings. ``--kernels`` adds
the compile time of each kernel in an empty-cache process, then checks that a second process on
the filled cache compiles nothing (a kernel Numba cannot cache would show up there).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from .machine import machine_info

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONNX = os.path.join(os.path.dirname(ROOT), "shared", "models", "english_g2.onnx")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")

TINYCRNN = """
import time, json; t0 = time.time()
import tinycrnn; t1 = time.time()
r = tinycrnn.Recognizer({model!r}); t2 = time.time()
text = r.recognize({image!r}).text; t3 = time.time()
print(json.dumps({{"end": t3, "import": t1 - t0, "load": t2 - t1, "first": t3 - t2, "text": text}}))
"""

IMPORT_ONLY = """
import time, json; t0 = time.time()
import tinycrnn; t1 = time.time()
print(json.dumps({"end": t1, "import": t1 - t0}))
"""

PYTHON_ONLY = """
import time, json; print(json.dumps({"end": time.time()}))
"""

# Preprocessing as EasyOCR does it for a line wider than tall: gray, height 64, bilinear
# width int(64 * w / h) (at least 64), [-1, 1]; then argmax CTC with the english_g2 charset.
ORT = """
import time, json; t0 = time.time()
import numpy as np, cv2, onnxruntime as ort; t1 = time.time()
so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
sess = ort.InferenceSession({onnx!r}, so, providers=["CPUExecutionProvider"])
charset = json.load(open({charset!r}, encoding="utf-8")); t2 = time.time()
img = cv2.imread({image!r}, cv2.IMREAD_GRAYSCALE); h, w = img.shape
W = max(64, int(64 * w / h)); x = cv2.resize(img, (W, 64), interpolation=cv2.INTER_LINEAR)
x = ((x.astype(np.float32) / 255.0 - 0.5) / 0.5)[None, None]
ids = sess.run(None, {{"input": x}})[0][0].argmax(-1)
text = "".join(charset[i] for k, i in enumerate(ids) if i != 0 and (k == 0 or i != ids[k - 1])); t3 = time.time()
print(json.dumps({{"end": t3, "import": t1 - t0, "load": t2 - t1, "first": t3 - t2, "text": text}}))
"""


def run_child(code: str, env: dict, extra_args=()) -> dict:
    start = time.time()
    p = subprocess.run([sys.executable, *extra_args, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"child failed ({p.returncode}): {p.stderr.strip().splitlines()[-1] if p.stderr else ''}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["wall"] = out["end"] - start
    out["stderr"] = p.stderr
    return out


def median_of(rows, key):
    vals = [r[key] for r in rows if key in r]
    return statistics.median(vals) * 1000.0 if vals else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--model", default="english_g2")
    ap.add_argument("--image", default=os.path.join("samples", "hello_world.png"))
    ap.add_argument("--onnx", default=ONNX)
    ap.add_argument("--json", action="store_true", help="also append the results to benchmarks/results/<cpu>.jsonl")
    ap.add_argument("--explain", action="store_true", help="show where the warm-cache path spends its time")
    ap.add_argument("--kernels", action="store_true", help="compile seconds per kernel (empty cache), recompiles on a warm one")
    ap.add_argument("--cli", action="store_true",
                    help="only the command a new user types: `tinycrnn read IMAGE` (page) and `--line`, empty and warm cache")
    args = ap.parse_args(argv)
    if args.cli:
        return cli_first_run(args.image, args.runs)

    base = dict(os.environ)
    for v in THREAD_VARS:
        base[v] = "1"
    tmp = tempfile.mkdtemp(prefix="tinycrnn-coldstart-")
    results = {}
    try:
        results["python -c pass"] = [run_child(PYTHON_ONLY, base) for _ in range(args.runs)]
        results["import tinycrnn"] = [run_child(IMPORT_ONLY, base) for _ in range(args.runs)]
        code = TINYCRNN.format(model=args.model, image=args.image)
        cold = []
        for i in range(args.runs):
            env = dict(base, NUMBA_CACHE_DIR=os.path.join(tmp, f"empty{i}"))
            cold.append(run_child(code, env))
        results["tinycrnn, empty numba cache"] = cold
        warm_env = dict(base, NUMBA_CACHE_DIR=os.path.join(tmp, "warm"))
        run_child(code, warm_env)  # fills the cache
        results["tinycrnn, warm numba cache"] = [run_child(code, warm_env) for _ in range(args.runs)]
        results["tinycrnn, numpy kernels"] = [run_child(code, dict(base, TINYCRNN_KERNELS="numpy"))
                                             for _ in range(args.runs)]
        if os.path.isfile(args.onnx):
            try:
                import tinycrnn

                charset = os.path.join(tmp, "charset.json")
                with open(charset, "w", encoding="utf-8") as f:
                    json.dump(tinycrnn.load_model(args.model, backend="numpy").charset, f)
                ort_code = ORT.format(onnx=args.onnx, charset=charset, image=args.image)
                results["onnxruntime (same weights)"] = [run_child(ort_code, base) for _ in range(args.runs)]
            except RuntimeError as exc:
                print(f"onnxruntime skipped: {exc}", file=sys.stderr)
        info = machine_info()
        print(f"# {info['cpu']}, {info['cores']} cores, python {info['python']}, numpy {info.get('numpy')}, "
              f"numba {info.get('numba')}, onnxruntime {info.get('onnxruntime', '-')}, {info['date']}, git {info.get('git')}")
        print(f"# median of {args.runs} fresh processes, 1 thread, image {args.image}")
        print(f"{'scenario':<30} {'wall':>8} {'import':>8} {'load':>8} {'1st line':>9}  ms   text")
        table = {}
        for name, rows in results.items():
            row = {k: median_of(rows, k) for k in ("wall", "import", "load", "first")}
            row["text"] = rows[-1].get("text", "")
            table[name] = row
            cells = "".join(f" {row[k]:8.0f}" if row[k] is not None else f" {'':>8}" for k in ("wall", "import", "load"))
            first = f" {row['first']:9.0f}" if row["first"] is not None else f" {'':>9}"
            print(f"{name:<30}{cells}{first}       {row['text']}")
        print("wall: spawn to first line (includes interpreter start-up); import/load/1st line: inside the child")
        if args.explain:
            explain(args.model, args.image, warm_env)
        if args.kernels:
            kernel_compile_times(args.model, args.image, base, tmp)
        if args.json:
            os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
            fn = os.path.join(ROOT, "benchmarks", "results", "".join(c if c.isalnum() else "_" for c in info["cpu"]) + ".jsonl")
            with open(fn, "a", encoding="utf-8") as f:
                f.write(json.dumps({"bench": "coldstart", "machine": info, "runs": args.runs, "rows": table}) + "\n")
            print(f"appended to {fn}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def cli_first_run(image: str, runs: int) -> int:
    """Spawn-to-exit wall time of ``python -m tinycrnn read IMAGE`` (page mode, the README's first command) and
    ``read --line``: on a machine where nothing is compiled yet (each run a new empty Numba cache: the NumPy
    twins read), forced to compile what the read needs (``--backend numba``, empty cache), and after
    ``tinycrnn warmup`` (timed once per mode on its own empty cache)."""
    env = dict(os.environ, **{v: "1" for v in THREAD_VARS})
    for var in ("TINYCRNN_QUIET", "TINYCRNN_KERNELS"):
        env.pop(var, None)
    tmp = tempfile.mkdtemp(prefix="tinycrnn-cli-")
    info = machine_info()
    print(f"# {info['cpu']}, {info['cores']} cores, python {info['python']}, numpy {info.get('numpy')}, "
          f"numba {info.get('numba')}, {info['date']}, git {info.get('git')}")
    print(f"# median of {runs} fresh processes, 1 thread: python -m tinycrnn read [--line] {image}")
    print(f"{'scenario':<44} {'median':>7} {'min':>7} {'max':>7}  s   output (notice)")

    def timed(args, cache_dir):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "tinycrnn", *args], capture_output=True, text=True, cwd=tmp,
                             env=dict(env, NUMBA_CACHE_DIR=cache_dir))
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return time.perf_counter() - start, out

    def row(name, walls, out):
        notice = ("twins" if "not compiled for this CPU" in out.stderr else
                  "compiled" if "compiling kernels" in out.stderr else "quiet")
        text = " | ".join(out.stdout.split("\n")).strip(" |")
        print(f"{name:<44} {statistics.median(walls):7.2f} {min(walls):7.2f} {max(walls):7.2f}     {text[:34]} ({notice})")

    try:
        from tinycrnn.engine import resolve_model_path
        from tinycrnn.page.defaults import default_page_model
        from tinycrnn.page.pipeline import OCR

        page = default_page_model("numba")
        models = {"page": [page] + [m for m in [OCR.auto_case_model(page, "numba")] if m],
                  "--line": [resolve_model_path("english_g2")]}
        for mode, extra in (("page", []), ("--line", ["--line"])):
            read = ["read", *extra, os.path.abspath(image)]
            results = [timed(read, os.path.join(tmp, f"{mode}-cold-{i}")) for i in range(runs)]
            row(f"read {mode}, nothing compiled yet", [w for w, _ in results], results[-1][1])
            results = [timed(read + ["--backend", "numba"], os.path.join(tmp, f"{mode}-jit-{i}")) for i in range(runs)]
            row(f"read {mode} --backend numba, empty cache", [w for w, _ in results], results[-1][1])
            warm_dir = os.path.join(tmp, f"{mode}-warm")
            wall, out = timed(["warmup", *models[mode]], warm_dir)
            row(f"tinycrnn warmup ({len(models[mode])} model{'s' * (len(models[mode]) > 1)}), once", [wall], out)
            results = [timed(read, warm_dir) for _ in range(runs)]
            row(f"read {mode}, after warmup", [w for w, _ in results], results[-1][1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


STAGES = """
import time, json; t0 = time.time()
import numpy; t1 = time.time()
import tinycrnn; t2 = time.time()
import cv2; t3 = time.time()
import numba; t4 = time.time()
m = tinycrnn.load_model({model!r}); t5 = time.time()
r = tinycrnn.Recognizer(m); img = r.load({image!r}); t6 = time.time()
import numpy as np
from tinycrnn.preprocess import resize_line; xi = resize_line(img, r.spec); t7 = time.time()
y = m.ops[0](np.zeros((1, m.channels, m.height, 64), np.float32)); t8 = time.time()
per_op = []
z = np.zeros((1, m.channels, m.height, 64), np.float32)
for op in m.ops:
    s = time.time(); z = op(z); per_op.append((type(op).__name__, time.time() - s))
t9 = time.time()
d = r.recognize(img); t10 = time.time()
print(json.dumps({{"numpy": t1 - t0, "tinycrnn": t2 - t1, "cv2": t3 - t2, "numba": t4 - t3, "load_model": t5 - t4,
  "Recognizer+imread": t6 - t5, "resize": t7 - t6, "first conv call": t8 - t7, "per_op_first": per_op,
  "rest of first forward": t9 - t8, "recognize (decode kernels etc.)": t10 - t9, "end": t10}}))
"""


NUMBA_PROBE = """
import time, json; t0 = time.time()
import numba; t1 = time.time()
@numba.njit(cache=True)
def f(x):
    return x + 1
@numba.njit(cache=True)
def g(x):
    return x * 2
f(1); t2 = time.time(); g(1); t3 = time.time()
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "second": t3 - t2, "end": t3}))
"""


# top-level compilations of tinycrnn kernels (tinycrnn.warmup.CompileLog); "first" starts after numba's import
COMPILES = """
import time, json
from tinycrnn.warmup import CompileLog
log = CompileLog().__enter__()
t0 = time.time()
import tinycrnn
tinycrnn.Recognizer({model!r}).recognize({image!r}); t1 = time.time()
print(json.dumps({{"end": t1, "first": t1 - t0, "compiles": log.compiled}}))
"""


def kernel_compile_times(model: str, image: str, base: dict, tmp: str) -> None:
    """Compile seconds per kernel with an empty cache, then what a second process on that cache recompiles."""
    env = dict(base, NUMBA_CACHE_DIR=os.path.join(tmp, "kernels"))
    code = COMPILES.format(model=model, image=image)
    cold, warm = run_child(code, env), run_child(code, env)
    total = sum(dt for _, dt in cold["compiles"])
    print(f"\nempty cache: {len(cold['compiles'])} kernels compiled in {total:.2f} s "
          f"(import to first line {cold['first']:.2f} s; the first compile includes Numba's set-up):")
    for name, dt in sorted(cold["compiles"], key=lambda r: -r[1]):
        print(f"  {dt:6.2f} s  {name}")
    again = ", ".join(name for name, _ in warm["compiles"]) or "nothing"
    print(f"warm cache, second process: recompiled {again}")


def explain(model: str, image: str, env: dict) -> None:
    """Where the warm-cache first line goes: stage clock, then -X importtime's heaviest imports."""
    out = run_child(STAGES.format(model=model, image=image), env)
    print("\nwarm-cache first line, stage by stage (ms):")
    for k, v in out.items():
        if k in ("end", "stderr", "wall"):
            continue
        if k == "per_op_first":
            ops = {}
            for name, s in v:
                ops[name] = ops.get(name, 0.0) + s * 1000
            print("  first call per op type: " + ", ".join(f"{n} {ms:.0f}" for n, ms in ops.items()))
        else:
            print(f"  {k:<34} {v * 1000:8.0f}")
    probe_py = os.path.join(env["NUMBA_CACHE_DIR"], "numba_probe.py")  # a file, so Numba can cache it
    with open(probe_py, "w", encoding="utf-8") as f:
        f.write(NUMBA_PROBE)
    run_child(f"import runpy; runpy.run_path({probe_py!r})", env)  # fills the cache
    probe = run_child(f"import runpy; runpy.run_path({probe_py!r})", env)
    print(f"  numba alone: import {probe['import'] * 1000:.0f} ms, first call of a trivial cached @njit "
          f"{probe['first'] * 1000:.0f} ms, second cached function {probe['second'] * 1000:.0f} ms")
    imp = run_child(TINYCRNN.format(model=model, image=image), env, extra_args=("-X", "importtime"))
    rows = []
    for line in imp["stderr"].splitlines():
        if line.startswith("import time:") and "|" in line:
            parts = line[len("import time:"):].split("|")
            try:
                rows.append((int(parts[1]), parts[2].rstrip()))
            except ValueError:
                continue
    print("heaviest imports (cumulative us, -X importtime):")
    for us, name in sorted(rows, reverse=True)[:15]:
        print(f"  {us / 1000:8.1f} ms {name}")


if __name__ == "__main__":
    sys.exit(main())
