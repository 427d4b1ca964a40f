"""Orientation classifier (weights/ppocr_cls.tcrnn) vs onnxruntime: time per batch of 48 x 192 lines, one thread.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m benchmarks.bench_cls --batch 1 6 24

Random inputs (the cost does not depend on the content); engines interleaved, first call dropped,
median of ``--runs``; also the largest probability difference. onnxruntime is a bench extra.
"""
import argparse
import os
import statistics
import sys
import time

from benchmarks._shared import shared_path

CLS_ONNX = os.environ.get("TINYCRNN_CLS_ONNX", shared_path("models", "ppocr-det-cls", "ch_ppocr_mobile_v2.0_cls_infer.onnx"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 6, 24])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args(argv)
    import numpy as np
    import onnxruntime as ort

    import tinycrnn

    model = tinycrnn.load_model("ppocr_cls")
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
    sess = ort.InferenceSession(CLS_ONNX, so, providers=["CPUExecutionProvider"])
    print("batch  tinycrnn_ms  ort_ms  max|dp|")
    for n in args.batch:
        x = np.random.default_rng(n).uniform(-1, 1, (n, 3, 48, 192)).astype(np.float32)
        ours, theirs = [], []
        for _ in range(args.runs + 1):
            t = time.perf_counter()
            y = model.forward(x)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            ref = sess.run(None, {"x": x})[0]
            theirs.append(time.perf_counter() - t)
        print(f"{n}  {statistics.median(ours[1:]) * 1e3:.2f}  {statistics.median(theirs[1:]) * 1e3:.2f}  "
              f"{float(np.abs(y - ref).max()):.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
