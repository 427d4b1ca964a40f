"""Every tunable of the engine in one place: Numba flags and the kernel backend.

Kernels take their ``@njit`` flags from here only (``.ci/run`` greps for strays), so a
change of policy (fastmath, caching) is one edit.
"""
import os
import threading
from contextlib import contextmanager
from typing import Iterator, Optional

#: Flags for floating-point kernels. ``fastmath`` lets LLVM reassociate reductions so the
#: inner loops vectorise; parity tests bound the resulting differences.
NUMBA_FLAGS = {"cache": True, "nogil": True, "fastmath": True, "error_model": "numpy"}

#: Flags for integer and bookkeeping kernels: never fastmath.
NUMBA_FLAGS_EXACT = {"cache": True, "nogil": True, "error_model": "numpy"}

KERNEL_BACKENDS = ("numba", "numpy")


_LOCAL = threading.local()


@contextmanager
def backend_scope(backend: Optional[str]) -> Iterator[None]:
    """Within the block, in this thread, :func:`kernel_backend` answers ``backend`` (None: no change).

    A :class:`~tinycrnn.Recognizer` decodes inside the scope of its model's backend, so the decoders'
    kernels follow the model it was given rather than the process-wide setting."""
    previous = getattr(_LOCAL, "backend", None)
    _LOCAL.backend = backend or previous
    try:
        yield
    finally:
        _LOCAL.backend = previous


def kernel_backend() -> str:
    """The kernel backend chosen by ``TINYCRNN_KERNELS`` (``numba`` by default, ``numpy`` = reference),
    unless a :func:`backend_scope` is active in this thread."""
    scoped = getattr(_LOCAL, "backend", None)
    if scoped:
        return scoped
    value = os.environ.get("TINYCRNN_KERNELS", "numba").strip().lower() or "numba"
    if value == "ref":
        value = "numpy"
    if value not in KERNEL_BACKENDS:
        from .errors import TinyCRNNError

        raise TinyCRNNError(
            f"TINYCRNN_KERNELS={value!r} is not a kernel backend; use one of {', '.join(KERNEL_BACKENDS)}"
        )
    return value
