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
def _bias_act_planes(y, bias, code):
    # y (N, O, P) in place: y[n, o, p] = act(y[n, o, p] + bias[o])
    n, o_len, p_len = y.shape
    for b in range(n):
        for o in range(o_len):
            bo = bias[o]
            for p in range(p_len):
                y[b, o, p] = _act(y[b, o, p] + bo, code)


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


# NOTE: LSTM gates use this rational tanh (Eigen's ``generic_fast_tanh_float`` coefficients)
# instead of libm: np.exp / np.tanh compile to scalar calls (no vector math library here), which
# cost ~10 us per 256-unit step, more than the int8 recurrent product itself; this form is plain
# arithmetic that LLVM vectorises. Max abs error vs np.tanh ~2e-7 (tests bound the LSTM outputs).
_TANH_CLAMP = np.float32(7.90531110763549805)
_A1, _A3, _A5, _A7 = np.float32(4.89352455891786e-03), np.float32(6.37261928875436e-04), np.float32(1.48572235717979e-05), np.float32(5.12229709037114e-08)
_A9, _A11, _A13 = np.float32(-8.60467152213735e-11), np.float32(2.00018790482477e-13), np.float32(-2.76076847742355e-16)
_B0, _B2, _B4, _B6 = np.float32(4.89352518554385e-03), np.float32(2.26843463243900e-03), np.float32(1.18534705686654e-04), np.float32(1.19825839466702e-06)


@njit(inline="always", **NUMBA_FLAGS)
def _tanh(x):
    x = x if x < _TANH_CLAMP else _TANH_CLAMP
    x = x if x > -_TANH_CLAMP else -_TANH_CLAMP
    x2 = x * x
    p = x2 * _A13 + _A11
    p = p * x2 + _A9
    p = p * x2 + _A7
    p = p * x2 + _A5
    p = p * x2 + _A3
    p = p * x2 + _A1
    q = x2 * _B6 + _B4
    q = q * x2 + _B2
    q = q * x2 + _B0
    return x * p / q


@njit(inline="always", **NUMBA_FLAGS)
def _sigmoid(x):
    half = np.float32(0.5)
    return half + half * _tanh(half * x)
