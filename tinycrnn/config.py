"""Every tunable of the engine in one place: Numba flags and the kernel backend.

Kernels take their ``@njit`` flags from here only (``.ci/run`` greps for strays), so a
change of policy (fastmath, caching) is one edit.
"""
import os

#: Flags for floating-point kernels. ``fastmath`` lets LLVM reassociate reductions so the
#: inner loops vectorise; parity tests bound the resulting differences.
NUMBA_FLAGS = {"cache": True, "nogil": True, "fastmath": True, "error_model": "numpy"}

#: Flags for integer and bookkeeping kernels: never fastmath.
NUMBA_FLAGS_EXACT = {"cache": True, "nogil": True, "error_model": "numpy"}

KERNEL_BACKENDS = ("numba", "numpy")


def kernel_backend() -> str:
    """The kernel backend chosen by ``TINYCRNN_KERNELS`` (``numba`` by default, ``numpy`` = reference)."""
    value = os.environ.get("TINYCRNN_KERNELS", "numba").strip().lower() or "numba"
    if value == "ref":
        value = "numpy"
    if value not in KERNEL_BACKENDS:
        from .errors import TinyCRNNError

        raise TinyCRNNError(
            f"TINYCRNN_KERNELS={value!r} is not a kernel backend; use one of {', '.join(KERNEL_BACKENDS)}"
        )
    return value
