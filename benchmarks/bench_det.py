"""PP-OCRv4 DB detector: tinycrnn's graph model vs onnxruntime on real pages, time and probability-map gap.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
        python -m benchmarks.bench_det --images ../shared/data/sroie_photo/images --size rapidocr --runs 5

Each page is pre-processed once (``--size rapidocr``: RapidOCR 1.4.4's rule, short side scaled UP to
736, never down, long side capped at 2000, sides rounded to multiples of 32; ``--size 736``: short
side scaled to exactly 736, down as well), then the two engines run interleaved ``--runs`` times
on one thread (the first call of each is dropped as warm-up) and the per-page medians are
reported, with the largest absolute difference of the probability maps and the share of pixels on
different sides of DB's 0.3 threshold. onnxruntime is a bench extra, never a tinycrnn dependency.
"""
import argparse
import glob
import os
import statistics
import sys
import time

from benchmarks._shared import shared_path

DET_ONNX = os.environ.get("TINYCRNN_DET_ONNX", shared_path("models", "ppocr-det-cls", "ch_PP-OCRv4_det_infer.onnx"))


def det_input(img, size: str):
    """RapidOCR's detector pre-processing of a BGR image -> float32 (1, 3, H, W)."""
    import cv2
    import numpy as np

    h, w = img.shape[:2]
    if size == "rapidocr":
        if max(h, w) > 2000:
            r = 2000 / max(h, w)
            img = cv2.resize(img, (int(w * r), int(h * r)))
            h, w = img.shape[:2]
        ratio = 736 / min(h, w) if min(h, w) < 736 else 1.0
    else:
        ratio = int(size) / min(h, w)
    rh, rw = int(h * ratio), int(w * ratio)
    rh, rw = max(int(round(rh / 32) * 32), 32), max(int(round(rw / 32) * 32), 32)
    x = cv2.resize(img, (rw, rh)).astype(np.float32)
    return np.ascontiguousarray(((x / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", required=True, help="folder of page images")
    ap.add_argument("--size", default="rapidocr", help="'rapidocr' or a short side in pixels (e.g. 736)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--limit", type=int, default=0, help="only the first N pages")
    ap.add_argument("--model", default="ppocrv4_det")
    ap.add_argument("--no-ort", action="store_true", help="time tinycrnn only")
    args = ap.parse_args(argv)
    import cv2
    import numpy as np

    import tinycrnn

    model = tinycrnn.load_model(args.model)
    sess = None
    if not args.no_ort:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
        sess = ort.InferenceSession(DET_ONNX, so, providers=["CPUExecutionProvider"])
    t0 = time.perf_counter()
    model.forward(np.zeros((1, 3, 64, 64), np.float32))
    print(f"first call (compile or cache load): {time.perf_counter() - t0:.2f} s")
    paths = sorted(glob.glob(os.path.join(args.images, "*.jpg")) + glob.glob(os.path.join(args.images, "*.png")))
    paths = paths[: args.limit or None]
    ours, theirs, gaps, flips = [], [], [], []
    print("page  input  tinycrnn_ms  ort_ms  max|dp|  thresh_flips")
    for p in paths:
        x = det_input(cv2.imread(p), args.size)
        t_us, t_ort = [], []
        for k in range(args.runs + 1):
            t = time.perf_counter()
            y = model.forward(x)
            t_us.append(time.perf_counter() - t)
            if sess is not None:
                t = time.perf_counter()
                ref = sess.run(None, {"x": x})[0]
                t_ort.append(time.perf_counter() - t)
        ours.append(statistics.median(t_us[1:]) * 1e3)
        line = f"{os.path.basename(p)}  {x.shape[2]}x{x.shape[3]}  {ours[-1]:.0f}"
        if sess is not None:
            theirs.append(statistics.median(t_ort[1:]) * 1e3)
            gaps.append(float(np.abs(y - ref).max()))
            flips.append(float(np.mean((y > 0.3) != (ref > 0.3))))
            line += f"  {theirs[-1]:.0f}  {gaps[-1]:.2e}  {flips[-1]:.2e}"
        print(line, flush=True)
    print(f"median over {len(paths)} pages: tinycrnn {statistics.median(ours):.0f} ms", end="")
    if sess is not None:
        print(f", onnxruntime {statistics.median(theirs):.0f} ms; worst max|dp| {max(gaps):.2e}, "
              f"worst threshold flips {max(flips):.2e}")
    else:
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
