"""Fused bias + activation epilogues shared by the Numba conv and linear kernels."""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS

ACT_CODES = {"none": 0, "relu": 1, "hardswish": 2, "hardsigmoid": 3}


@njit(inline="always", **NUMBA_FLAGS)
def _act(v, code):
    if code == 1:
        return v if v > 0.0 else np.float32(0.0)
    if code == 2:
        r = min(max(v + np.float32(3.0), np.float32(0.0)), np.float32(6.0))
        return v * r / np.float32(6.0)
    if code == 3:
        return min(max(v / np.float32(6.0) + np.float32(0.5), np.float32(0.0)), np.float32(1.0))
    return v


@njit(**NUMBA_FLAGS)
def _bias_act_scatter(y, bias, code, out):
    # y (O, N*P) GEMM result -> out (N, O, P) with out[n, o, p] = act(y[o, n*P + p] + bias[o])
    n, o_len, p_len = out.shape
    for o in range(o_len):
        bo = bias[o]
        for b in range(n):
            base = b * p_len
            for p in range(p_len):
                out[b, o, p] = _act(y[o, base + p] + bo, code)


@njit(**NUMBA_FLAGS)
def _bias_act_rows(y, bias, code):
    # y (M, O) in place: y[m, o] = act(y[m, o] + bias[o])
    m_len, o_len = y.shape
    for m in range(m_len):
        for o in range(o_len):
            y[m, o] = _act(y[m, o] + bias[o], code)


def bias_act_rows(y: np.ndarray, bias, act: str) -> np.ndarray:
    """In place on ``y`` (..., O) float32: add ``bias`` (O,) (or nothing) and apply ``act``."""
    b = bias if bias is not None else np.zeros(y.shape[-1], np.float32)
    _bias_act_rows(y.reshape(-1, y.shape[-1]), b, ACT_CODES[act])
    return y
