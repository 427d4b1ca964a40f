"""Benchmarks and evaluations (a source checkout only: not installed with the package).

Every figure here is one thread unless the command says otherwise, so importing this package (which
``python -m benchmarks.X`` does before ``X`` imports NumPy) sets each thread-pool variable that is not set
already to 1. Without it OpenBLAS runs the FP32 pointwise convs' small GEMMs on every core: on the 2-vCPU
machine of RESULTS.md, ``eval_pages`` on the scans measured 1.03 s per page that way against 0.90 s on one
thread, with 1.8x the CPU time. A variable set by the caller wins (``OPENBLAS_NUM_THREADS=2 python -m ...``).
OpenCV's own pool is set by :func:`pin_opencv` in the benchmarks that time pages.
"""
import os

#: The thread-pool variables BLAS, OpenMP and Numba read when they load (tinycrnn.bench.THREAD_VARS).
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
#: The variables this import set (the caller had not): :mod:`.cpu_build` leaves them out of the command it runs.
PINNED = tuple(v for v in THREAD_VARS if v not in os.environ)
for _var in PINNED:
    os.environ[_var] = "1"


def pin_opencv() -> int:
    """Give OpenCV's thread pool the same size as BLAS's (``OMP_NUM_THREADS``); returns it."""
    import cv2

    n = max(1, int(os.environ.get("OMP_NUM_THREADS", "1")))
    cv2.setNumThreads(n)
    return n
