"""Per-op time of a model's forward pass, one thread: where the milliseconds go.

    OPENBLAS_NUM_THREADS=1 python -m benchmarks.profile_ops --model ppocrv2_zh-int8 --width 320 [--batch 1] [--reps 100]
    OPENBLAS_NUM_THREADS=1 python -m benchmarks.profile_ops --model ppocrv4_det --height 736 --width 1120 --reps 5

Each op runs ``--reps`` times on the input it sees in a real forward pass (random input, fixed seed);
prints the mean per op (the input copy that protects in-place ops is timed and subtracted) and the
share of each op kind, depthwise convs apart.
"""
import argparse
import time
from collections import defaultdict


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="english_g2")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--height", type=int, default=736, help="models with any input height (detectors): H")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--reps", type=int, default=100)
    args = ap.parse_args(argv)
    import numpy as np

    import tinycrnn

    m = tinycrnn.load_model(args.model)
    h = m.height or args.height
    x = np.random.default_rng(0).standard_normal((args.batch, m.channels, h, args.width)).astype(np.float32)
    for _ in range(3):
        m.forward(x)
    # the graph's layers in run order with the values they read (a chain is the simple case)
    calls, values = [], {m.graph.input_name: x}
    for op, ins, out in m.graph.nodes:
        calls.append((op, [values[v] for v in ins]))
        values[out] = op(*[a.copy() for a in calls[-1][1]])
    rows, kinds = [], defaultdict(float)
    for op, args_ in calls:
        op(*[a.copy() for a in args_])
        t = time.perf_counter()
        for _ in range(args.reps):
            op(*[a.copy() for a in args_])
        us = (time.perf_counter() - t) / args.reps * 1e6
        t = time.perf_counter()
        for _ in range(args.reps):
            [a.copy() for a in args_]
        us -= (time.perf_counter() - t) / args.reps * 1e6  # the copy only protects in-place ops (softmax)
        groups = getattr(op, "groups", 1)
        kind = "depthwise conv2d" if groups > 1 else op.kind
        kinds[kind] += us
        rows.append((op.name, kind, tuple(args_[0].shape), us))
    total = sum(r[3] for r in rows)
    print(f"{args.model}, input {list(x.shape)}, {args.reps} reps")
    for name, kind, shape, us in rows:
        print(f"{name:<14} {kind:<18} {str(shape):<22} {us:9.1f} us")
    print("by kind: " + ", ".join(f"{k} {v:.0f} us ({100 * v / total:.1f}%)" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])))
    print(f"total {total:.0f} us")


if __name__ == "__main__":
    main()
