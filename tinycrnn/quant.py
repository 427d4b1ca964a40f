"""Symmetric int8 quantisation: the one rounding rule and the scale conventions shared by the
converter, the NumPy reference twins and the Numba kernels (quant_version 1).

Weights: int8 in [-127, 127], one float32 scale per output row (conv output channel, LSTM gate
row, linear output). Activations: quantised dynamically, one scale per line (batch item) so a
line never depends on its batch: uint8 [0, 255] with zero-point 0 and scale max/255 for
non-negative conv inputs (post-ReLU), int8 [-127, 127] with scale max|x|/127 for linear and
LSTM inputs; the LSTM hidden state uses the fixed scale 1/127. Scales are float32. No Numba here.
"""
import numpy as np

#: Bump (together with ``modelfile.QUANT_VERSION``) when any of these conventions change.
QMAX = 127
UMAX = 255
#: The LSTM hidden state lies in (-1, 1), so it is quantised with the fixed scale 1/127.
H_QSCALE = np.float32(1.0 / QMAX)


def round_half_even(x: np.ndarray) -> np.ndarray:
    """Round to nearest, ties to even (``np.rint``; LLVM ``rint`` in the kernels, never C ``roundf``)."""
    return np.rint(x)


def inv_scale(scale) -> np.float32:
    """``1/scale`` in float32, guarding zero and subnormal scales (ggml ``d ? 1/d : 0``; 1/subnormal
    overflows to inf and 0*inf is NaN): values are multiplied by it."""
    s = np.float32(scale)
    return np.float32(1.0) / s if s >= np.finfo(np.float32).tiny else np.float32(0.0)


def quantize(x: np.ndarray, scale, lo: int = -QMAX, hi: int = QMAX, dtype=np.int8) -> np.ndarray:
    """``clip(round_half_even(x * (1/scale)), lo, hi)`` computed in float32, cast to ``dtype``."""
    q = round_half_even(np.asarray(x, np.float32) * inv_scale(scale))
    return np.clip(q, lo, hi).astype(dtype)


def dequantize(q: np.ndarray, scale) -> np.ndarray:
    """``q * scale`` in float32 (``scale`` broadcasts)."""
    return q.astype(np.float32) * np.asarray(scale, np.float32)


def quantize_rows(w: np.ndarray):
    """Per-row (axis 0) symmetric int8: returns ``(w_q int8 same shape, w_scale (rows,) float32)``.

    ``w_scale = max|row| / 127`` (a zero row gets scale 0 and quantises to zeros), so
    ``|dequantize(w_q, w_scale) - w| <= w_scale / 2`` elementwise.
    """
    w = np.asarray(w, np.float32)
    flat = w.reshape(w.shape[0], -1)
    scale = (np.abs(flat).max(axis=1) / np.float32(QMAX)).astype(np.float32)
    q = np.stack([quantize(r, s) for r, s in zip(flat, scale)]) if len(flat) else flat.astype(np.int8)
    return q.reshape(w.shape), scale


def dynamic_uscale_rows(x: np.ndarray) -> np.ndarray:
    """Per-line dynamic scales for non-negative activations ``x (N, ...)``: ``max(x[n]) / 255`` (float32, (N,))."""
    amax = np.maximum(x.reshape(x.shape[0], -1).max(axis=1), 0).astype(np.float32)
    return amax / np.float32(UMAX)


def dynamic_scale_rows(x: np.ndarray) -> np.ndarray:
    """Per-line dynamic scales for signed activations ``x (N, ...)``: ``max|x[n]| / 127`` (float32, (N,))."""
    amax = np.abs(x.reshape(x.shape[0], -1)).max(axis=1).astype(np.float32)
    return amax / np.float32(QMAX)
