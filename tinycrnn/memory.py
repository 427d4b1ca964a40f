"""Keep freed memory in the process, so each page does not pay the kernel for fresh pages again.

Why: a photo page allocates and frees about a gigabyte of short-lived arrays (the DB detector's feature maps
are 17-80 MB each). glibc hands blocks over its mmap threshold straight back to the kernel on free and trims
the heap top, so the next page faults every page in again and the kernel zeroes it: on the 2-vCPU Zen 3 of
benchmarks/RESULTS.md that was ~10% of a photo page in kernel time (3.1 s of 33 s for the 24 dev photos,
165k minor faults). Serving large blocks from the heap and never trimming it (``mallopt``: no mmap, trim
threshold at its maximum) keeps the freed blocks for the next page: median photo page 1.22-1.25 s -> 1.09-1.11 s,
the same texts, 25k faults, and peak RSS +56 MB (444 -> 500 MB), which then stays resident between pages.

The page pipeline (:class:`tinycrnn.OCR`) calls :func:`keep_freed_memory` when it is built, so the CLI, the
server and batch workers get it too. ``TINYCRNN_MALLOC=system`` leaves malloc as it is. It is process-wide
and only exists with glibc (Linux): elsewhere (musl, macOS, Windows) it does nothing.
"""
import ctypes
import os
import platform

#: mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_TRIM_MAX = 2**31 - 1  # mallopt takes an int

_applied = None


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed memory (see the module doc); True when this process now does.

    Idempotent. False with ``TINYCRNN_MALLOC=system``, without glibc, or if glibc refused a setting."""
    global _applied
    if os.environ.get("TINYCRNN_MALLOC", "").strip().lower() == "system":
        return False
    if _applied is None:
        _applied = _mallopt_keep()
    return _applied


def _mallopt_keep() -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_MAX))
