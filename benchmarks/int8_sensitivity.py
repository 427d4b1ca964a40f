"""Which english_g2 layers cost INT8 agreement, and how sensitive the FP32 model is to any perturbation.

    python -m benchmarks.int8_sensitivity [--per-set 100] [--layers cnn.8,head] [--no-floor]

Fixed subset: every (N/per_set)-th image of icdar2015, sroie_lines and iiit5k. Each row is the share
of images whose greedy text equals the FP32 model's. "only L int8" quantises layer L alone
(`quantize_model(keep_fp32=every other layer)`, built-in calibration lines, real int8 kernels); the
floor rows perturb the FP32 weights instead (relative Gaussian noise, fp16 and bf16 rounding).
"""
import argparse

import numpy as np

from .eval_int8 import read_labels

SETS = ("icdar2015", "sroie_lines", "iiit5k")


def _bf16(v: np.ndarray) -> np.ndarray:
    u = v.astype(np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-set", type=int, default=100)
    ap.add_argument("--layers", default="", help="comma-separated layer names (default: every quantisable layer)")
    ap.add_argument("--no-floor", action="store_true", help="skip the FP32 perturbation rows")
    args = ap.parse_args(argv)
    from tinycrnn import Recognizer
    from tinycrnn.convert.quantize import builtin_calibration_images, quantize_model
    from tinycrnn.engine import Model, resolve_model_path
    from tinycrnn.modelfile import ModelFile, read_model

    fp32 = read_model(resolve_model_path("english_g2-fp32"))
    tensors = {k: np.array(v) for k, v in fp32.tensors.items()}
    rows = []
    for ds in SETS:
        labels = read_labels(ds)
        step = len(labels) / args.per_set
        rows += [(ds, labels[int(i * step)][0]) for i in range(args.per_set)]

    def texts(t, manifest):
        rec = Recognizer(Model(ModelFile("<memory>", manifest, t)))
        return [rec.decode(p).text for p in rec.probabilities([rec.load(path) for _, path in rows])]

    ref = texts(tensors, fp32.manifest)

    def report(label, got):
        cells = [100.0 * sum(g == r for (ds, _), g, r in zip(rows, got, ref) if ds == s) / args.per_set for s in SETS]
        total = 100.0 * sum(g == r for g, r in zip(got, ref)) / len(ref)
        print(f"{label:<34}" + "".join(f" {c:>11.1f}" for c in cells) + f" {total:>7.1f}", flush=True)

    print(f"{'variant':<34}" + "".join(f" {s:>11}" for s in SETS) + f" {'all':>7}")
    layers = [s["name"] for s in fp32.manifest["arch"]["layers"] if s["op"] in ("conv2d", "bilstm", "linear")]
    chosen = args.layers.split(",") if args.layers else ["ALL"] + layers
    cal = builtin_calibration_images()
    for only in chosen:
        keep = [] if only == "ALL" else [name for name in layers if name != only]
        t, m, _ = quantize_model(tensors, fp32.manifest, cal, keep_fp32=keep)
        if only != "ALL" and not any(s.get("quant") for s in m["arch"]["layers"]):
            print(f"only {only} int8: not quantisable (stays FP32)")
            continue
        report("all layers int8" if only == "ALL" else f"only {only} int8", texts(t, m))
    if args.no_floor:
        return
    rng = np.random.default_rng(0)
    for rel in (1e-3, 3e-3, 9e-3):
        noisy = {k: (v * (1 + rel * rng.standard_normal(v.shape))).astype(np.float32) if v.ndim >= 2 else v
                 for k, v in tensors.items()}
        report(f"FP32 weights x (1 + {rel:g} N(0,1))", texts(noisy, fp32.manifest))
    for name, cast in (("fp16", lambda v: v.astype(np.float16).astype(np.float32)), ("bf16", _bf16)):
        report(f"weights rounded to {name}", texts({k: cast(v) if v.ndim >= 2 else v for k, v in tensors.items()},
                                                   fp32.manifest))


if __name__ == "__main__":
    main()
