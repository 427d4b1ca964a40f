"""Kernel backends behind one interface: ``numba`` (default, compiled) and ``numpy`` (reference twins).

A backend is a namespace of functions with identical signatures; ops never branch on the
backend. Importing this package imports neither Numba nor the kernels: :func:`get_kernels`
does, on first use.
"""
from types import SimpleNamespace

_CACHE = {}


def _pack_lstm_ref(w_ih, w_hh, b):
    return (w_ih, w_hh, b)


def _pack_lstm_numba(w_ih, w_hh, b):
    import numpy as np

    return (np.ascontiguousarray(w_ih), np.ascontiguousarray(w_hh.T), np.ascontiguousarray(b))


def _linear_numba(x, weight, bias, act="none"):
    from .activations import bias_act_rows

    return bias_act_rows(x @ weight.T, bias, act)


def get_kernels(backend: str) -> SimpleNamespace:
    """The kernel namespace of ``backend`` (``"numba"`` or ``"numpy"``)."""
    if backend not in _CACHE:
        if backend == "numpy":
            from . import ref

            ns = SimpleNamespace(
                name="numpy",
                conv2d=ref.conv2d_ref,
                maxpool2d=ref.maxpool2d_ref,
                mean_height=ref.mean_height_ref,
                linear=ref.linear_ref,
                pack_lstm=_pack_lstm_ref,
                bilstm=ref.bilstm_ref,
            )
        elif backend == "numba":
            from . import conv, lstm, pool

            ns = SimpleNamespace(
                name="numba",
                conv2d=conv.conv2d,
                maxpool2d=pool.maxpool2d,
                mean_height=pool.mean_height,
                linear=_linear_numba,
                pack_lstm=_pack_lstm_numba,
                bilstm=lstm.bilstm,
            )
        else:
            raise ValueError(f"unknown kernel backend {backend!r}; use 'numba' or 'numpy'")
        _CACHE[backend] = ns
    return _CACHE[backend]
