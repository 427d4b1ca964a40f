"""Our bilinear resize (tinycrnn.resample.linear_resize) against cv2.resize on every resize the engine makes.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m benchmarks.resize_agreement \
        [--sets iiit5k,svt,icdar2013,icdar2015,sroie_lines,zh_lines] [--pages sroie,sroie_photo] [--latency 300]

Every call the engine makes to ``linear_resize`` (line preprocessing of both models, EasyOCR's tall-crop
stage, page lines) is also run through ``cv2.resize(INTER_LINEAR)`` and compared: calls, pixels, pixels that
differ, largest difference. Line sets are preprocessed for english_g2 (gray, H64) and PP-OCRv2 (BGR, H32);
page sets are read whole with ``tinycrnn.OCR()`` (its defaults). Where no pixel differs, every text and score
the engine produces is the one it produced with cv2.resize (on x86 the engine calls cv2.resize itself; the
comparison is of our kernel). ``--latency N`` times one resize per line on the first N lines of the first set
(model heights 64 gray and 32 BGR): ``linear_resize`` as the engine calls it, our Numba kernel, its NumPy twin
and cv2.resize, interleaved in one thread, median.
"""
import argparse
import os
import platform
import statistics
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")


class Spy:
    """Wraps ``linear_resize``: the engine's result is returned unchanged; each call is also run through our own
    kernel (``resample.kernel_resize``: the engine calls cv2.resize itself on x86) and compared with cv2.resize."""

    def __init__(self, fn):
        self.fn, self.calls, self.pixels, self.differ, self.max_diff = fn, 0, 0, 0, 0

    def __call__(self, img, width, height, backend=None):
        import cv2

        from tinycrnn.resample import kernel_resize

        out = self.fn(img, width, height, backend)
        ours = kernel_resize(img, width, height, "numpy" if backend == "numpy" else "numba")
        want = cv2.resize(img, (int(width), int(height)), interpolation=cv2.INTER_LINEAR)
        diff = np.abs(ours.reshape(want.shape).astype(np.int16) - want)
        self.calls += 1
        self.pixels += diff.size
        self.differ += int((diff > 0).sum())
        self.max_diff = max(self.max_diff, int(diff.max()))
        return out

    def report(self, label):
        share = self.differ / max(1, self.pixels)
        print(f"{label:<28} {self.calls:>6} calls {self.pixels:>12} px  differ {self.differ:>8} ({share:.2e})  max {self.max_diff}")


def line_paths(name):
    with open(os.path.join(DATA, name, "labels.tsv"), encoding="utf-8") as f:
        return [os.path.join(DATA, name, line.split("\t")[0]) for line in f if line.strip()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="iiit5k,svt,icdar2013,icdar2015,sroie_lines,zh_lines")
    ap.add_argument("--pages", default="sroie,sroie_photo")
    ap.add_argument("--latency", type=int, default=300, help="lines to time (0: no timing)")
    ap.add_argument("--backend", default="numba", choices=("numba", "numpy"))
    args = ap.parse_args(argv)

    import cv2

    import tinycrnn
    import tinycrnn.resample as resample
    from tinycrnn.image_io import load_image
    from tinycrnn.preprocess import LineSpec, resize_line

    print(f"{platform.machine()} {platform.processor() or ''} OpenCV {cv2.__version__} numpy {np.__version__}")
    original = resample.linear_resize
    specs = [(m, LineSpec.from_manifest(tinycrnn.load_model(m, backend="numpy").manifest)) for m in ("english_g2", "ppocrv2_zh")]
    sets = [s for s in args.sets.split(",") if s]
    try:
        for name in sets:
            paths = line_paths(name)
            for model, spec in specs:
                resample.linear_resize = spy = Spy(original)
                for p in paths:
                    resize_line(load_image(p, spec.color), spec, args.backend)
                spy.report(f"{name}/{model}")
        for name in [s for s in args.pages.split(",") if s]:
            pages_tsv = os.path.join(DATA, name, "pages.tsv")
            ocr = tinycrnn.OCR(backend=args.backend)
            resample.linear_resize = spy = Spy(original)
            for line in open(pages_tsv, encoding="utf-8").read().splitlines():
                if line.strip():
                    ocr.read(os.path.join(DATA, name, line.split("\t")[0]))
            spy.report(f"{name} pages/OCR()")
    finally:
        resample.linear_resize = original

    if args.latency and sets:
        imgs = [load_image(p, "bgr") for p in line_paths(sets[0])[: args.latency]]
        cases = []
        for img in imgs:
            h, w = img.shape[:2]
            gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            cases.append((gray, max(1, int(64 * w / h)), 64))
            cases.append((img, max(1, -(-32 * w // h)), 32))
        fns = {
            "linear_resize": lambda a, w, h: original(a, w, h, "numba"),
            "ours numba": lambda a, w, h: resample.kernel_resize(a, w, h, "numba"),
            "ours numpy twin": lambda a, w, h: original(a, w, h, "numpy"),
            "cv2.resize": lambda a, w, h: cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR),
        }
        for fn in fns.values():  # warm-up (compile, caches)
            fn(*cases[0])
        times = {k: [] for k in fns}
        for _ in range(5):
            for case in cases:
                for k, fn in fns.items():
                    t = time.perf_counter()
                    fn(*case)
                    times[k].append(time.perf_counter() - t)
        print(f"latency per resize over {len(cases)} lines of {sets[0]} (gray H64 and BGR H32), 5 rounds, interleaved:")
        for k, ts in times.items():
            print(f"  {k:<16} median {statistics.median(ts) * 1e6:8.1f} us   mean {statistics.mean(ts) * 1e6:8.1f} us")
        print(f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
