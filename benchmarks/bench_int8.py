"""FP32 and INT8 tinycrnn next to onnxruntime FP32 and PyTorch FP32 / dynamic int8, same weights,
same inputs, one process, round-robin timing; plus tinycrnn's per-op breakdown.

    OPENBLAS_NUM_THREADS=1 python -m benchmarks.bench_int8 --runs 30 [--widths 128,256,512,1024] [--batch 8] [--json]

Round-robin: each timed round calls every engine once on the same input, so load from other
processes on a shared machine hits all engines alike; medians over rounds, ratios vs onnxruntime.
torch (``pip install torch==2.13.0``) and onnxruntime are benchmark extras, skipped when missing.
The torch model is EasyOCR's CRNN rebuilt here and loaded with ``torch.load(weights_only=True)``;
"torch-dyn-int8" is ``quantize_dynamic`` on its LSTM and Linear layers (EasyOCR's CPU default).
"""
import argparse
import json
import os
import time

from .machine import machine_info, set_threads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "models")


def torch_engines(threads):
    try:
        import torch
        from torch import nn
    except ImportError:
        print("# torch not installed (pip install torch==2.13.0): skipped")
        return {}
    torch.set_num_threads(threads)

    class BiLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(256, 256, bidirectional=True, batch_first=True)
            self.linear = nn.Linear(512, 256)

        def forward(self, x):
            return self.linear(self.rnn(x)[0])

    class CRNN(nn.Module):  # EasyOCR VGG_FeatureExtractor + 2 BidirectionalLSTM + Linear
        def __init__(self):
            super().__init__()
            c = [32, 64, 128, 256]
            m = nn.Module()
            m.ConvNet = nn.Sequential(
                nn.Conv2d(1, c[0], 3, 1, 1), nn.ReLU(True), nn.MaxPool2d(2, 2),
                nn.Conv2d(c[0], c[1], 3, 1, 1), nn.ReLU(True), nn.MaxPool2d(2, 2),
                nn.Conv2d(c[1], c[2], 3, 1, 1), nn.ReLU(True), nn.Conv2d(c[2], c[2], 3, 1, 1), nn.ReLU(True),
                nn.MaxPool2d((2, 1), (2, 1)),
                nn.Conv2d(c[2], c[3], 3, 1, 1, bias=False), nn.BatchNorm2d(c[3]), nn.ReLU(True),
                nn.Conv2d(c[3], c[3], 3, 1, 1, bias=False), nn.BatchNorm2d(c[3]), nn.ReLU(True),
                nn.MaxPool2d((2, 1), (2, 1)), nn.Conv2d(c[3], c[3], 2, 1, 0), nn.ReLU(True))
            self.FeatureExtraction = m
            self.SequenceModeling = nn.Sequential(BiLSTM(), BiLSTM())
            self.Prediction = nn.Linear(256, 97)

        def forward(self, x):
            v = self.FeatureExtraction.ConvNet(x).permute(0, 3, 1, 2).mean(dim=3)
            return self.Prediction(self.SequenceModeling(v))

    state = torch.load(os.path.join(SHARED, "english_g2.pth"), map_location="cpu", weights_only=True)
    model = CRNN()
    model.load_state_dict({k[len("module."):]: v for k, v in state.items()})
    model.eval()
    qmodel = torch.quantization.quantize_dynamic(model, {nn.LSTM, nn.Linear}, dtype=torch.qint8)

    def wrap(mod):
        def run(x):
            with torch.inference_mode():
                return mod(torch.from_numpy(x)).numpy()
        return run

    return {"torch-fp32": wrap(model), "torch-dyn-int8": wrap(qmodel)}


def ort_engine(threads):
    try:
        import onnxruntime as ort
    except ImportError:
        print("# onnxruntime not installed: skipped")
        return {}
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(SHARED, "english_g2.onnx"), so, providers=["CPUExecutionProvider"])
    return {"onnxruntime": lambda x: sess.run(None, {"input": x})[0]}


#: The timer: wall time, or with ``--clock cpu`` this thread's CPU time (a shared machine's load barely moves it;
#: onnxruntime and PyTorch then also run on this thread: ``--threads 1``).
CLOCK = time.perf_counter


def breakdown(model, x, runs):
    """Median ms per stage: conv trunk (through mean_height), LSTM blocks (+ projections), head."""
    import numpy as np

    stages = []
    for i, op in enumerate(model.ops):
        last = i == len(model.ops) - 1
        stages.append("head" if last else "lstm" if op.kind in ("bilstm", "linear") else "conv trunk")
    ts = {s: [] for s in ("conv trunk", "lstm", "head")}
    for _ in range(runs):
        y, acc = x, {s: 0.0 for s in ts}
        for op, s in zip(model.ops, stages):
            t = CLOCK()
            y = op(y)
            acc[s] += CLOCK() - t
        for s in ts:
            ts[s].append(acc[s] * 1000)
    return {s: float(np.median(v)) for s, v in ts.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--widths", default="128,256,512,1024")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--fp32", default="english_g2-fp32")
    ap.add_argument("--int8", default="english_g2-int8")
    ap.add_argument("--also", default="", metavar="MODELS",
                    help="comma-separated extra tinycrnn models (names or .tcrnn paths) timed in the same rounds, "
                         "e.g. an int8 variant with some layers kept FP32")
    ap.add_argument("--json", action="store_true", help="append to benchmarks/results/<cpu>.jsonl")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time, or this thread's CPU time (robust on a busy machine; needs --threads 1)")
    args = ap.parse_args(argv)
    global CLOCK
    if args.clock == "cpu":
        if args.threads != 1:
            ap.error("--clock cpu measures one thread: use --threads 1")
        CLOCK = time.thread_time
    set_threads(args.threads)
    import numpy as np

    import tinycrnn

    engines = {}
    engines.update(ort_engine(args.threads))
    engines.update(torch_engines(args.threads))
    models = {}
    extra = [(f"tc:{os.path.splitext(os.path.basename(n))[0]}", n) for n in args.also.split(",") if n]
    for key, name in [("tinycrnn-fp32", args.fp32), ("tinycrnn-int8", args.int8)] + extra:
        m = tinycrnn.load_model(name, backend="numba")
        t = time.perf_counter()
        m.forward(np.zeros((1, 1, 64, 64), np.float32))
        print(f"# first call {key}: {(time.perf_counter() - t) * 1000:.0f} ms (JIT compile or cache load)")
        models[key] = m
        engines[key] = m.forward
    info = machine_info()
    print(f"# {info['cpu']}, {info['cores']} cores, {info['date']}, git {info.get('git')}, threads={args.threads}, "
          f"runs={args.runs} (round-robin), clock {args.clock}, numpy {info['numpy']}, numba {info.get('numba')}, "
          f"onnxruntime {info.get('onnxruntime')}, torch {info.get('torch')}")
    rng = np.random.default_rng(0)
    shapes = [(1, w) for w in map(int, args.widths.split(","))] + ([(args.batch, 256)] if args.batch > 1 else [])
    rows = []
    print(f"{'input':<14} " + " ".join(f"{n:>15}" for n in engines) + "   (median ms per call; x = vs onnxruntime)")
    for b, w in shapes:
        x = (rng.random((b, 1, 64, w), dtype=np.float32) * 2 - 1).astype(np.float32)
        for fn in engines.values():
            for _ in range(3):
                fn(x)
        ts = {n: [] for n in engines}
        for _ in range(args.runs):
            for n, fn in engines.items():
                t = CLOCK()
                fn(x)
                ts[n].append((CLOCK() - t) * 1000)
        med = {n: float(np.median(v)) for n, v in ts.items()}
        base = med.get("onnxruntime")
        cells = [f"{med[n]:7.2f}" + (f" {med[n] / base:5.2f}x" if base else "") for n in engines]
        print(f"{f'{b}x1x64x{w}':<14} " + " ".join(f"{c:>15}" for c in cells)
              + f"   int8/fp32 {med['tinycrnn-int8'] / med['tinycrnn-fp32']:.2f}x")
        row = {"batch": b, "width": w, "median_ms": med, "min_ms": {n: float(np.min(v)) for n, v in ts.items()}}
        if b == 1 and w == 256 or b > 1:
            row["breakdown_ms"] = {k: breakdown(m, x, max(5, args.runs // 2)) for k, m in models.items()}
            for k, bd in row["breakdown_ms"].items():
                print(f"{'':<14} {k} per-op: " + ", ".join(f"{s} {v:.2f}" for s, v in bd.items()))
        rows.append(row)
    if args.json:
        os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
        fn = os.path.join(ROOT, "benchmarks", "results", "".join(c if c.isalnum() else "_" for c in info["cpu"]) + ".jsonl")
        with open(fn, "a", encoding="utf-8") as f:
            f.write(json.dumps({"bench": "int8", "machine": info, "threads": args.threads, "rows": rows}) + "\n")
        print(f"# appended to {fn}")


if __name__ == "__main__":
    main()
