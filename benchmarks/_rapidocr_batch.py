"""RapidOCR over many images the way its users scale it: one process per core (multiprocessing.Pool), one
engine per process, onnxruntime on one thread. Runs in RapidOCR's own venv (``pip install
rapidocr-onnxruntime``); prints one JSON line. Called by ``benchmarks/bench_batch.py --peers``.

    python benchmarks/_rapidocr_batch.py --procs 2 [--line] IMAGE...
"""
import argparse
import json
import multiprocessing as mp
import os
import time

_ENGINE = None


def _init(line):
    global _ENGINE
    os.environ["OMP_NUM_THREADS"] = "1"
    from rapidocr_onnxruntime import RapidOCR

    _ENGINE = (RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1), line)


def _read(path):
    engine, line = _ENGINE
    if line:
        result, _ = engine(path, use_det=False, use_cls=False, use_rec=True)
    else:
        result, _ = engine(path)
    return len([r for r in (result or []) if r])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--line", action="store_true")
    ap.add_argument("images", nargs="+")
    a = ap.parse_args()
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(a.procs, initializer=_init, initargs=(a.line,)) as pool:
        lines = sum(pool.imap_unordered(_read, a.images, chunksize=1))
    print(json.dumps({"images": len(a.images), "lines": lines, "seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
