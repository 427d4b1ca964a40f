"""Numba kernels of the graph ops: nearest up-sampling fused into add and concat, per-channel affine,
standalone activations (sigmoid included), global average pooling.

# add:    out[n,c,y,x] = act(sum_i x_i[n, c, y // fh_i, x // fw_i])
# concat: out[n, c0_i + c, y, x] = x_i[n, c, y // fh_i, x // fw_i]
# affine: out[n,c,...] = x[n,c,...] * scale[c] + shift[c]

NOTE: a DB detector's FPN up-samples a deep map only to add it to, or concatenate it with, a
shallower one; writing the up-sampled value straight into the sum / the concatenation saves one
full-resolution temporary and one pass over it per branch. Inputs are made NCHW-contiguous first
(a Winograd conv returns NHWC memory; see kernels/conv.py); outputs are NCHW, except a concat whose
inputs all have NHWC memory, which writes NHWC memory (the DB head's conv reads it without a copy).
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS
from .activations import ACT_CODES, _act

#: graph activations: the conv epilogue's codes plus sigmoid
GRAPH_ACT_CODES = dict(ACT_CODES, sigmoid=4)


@njit(inline="always", **NUMBA_FLAGS)
def _act_graph(v, code):
    if code == 4:
        return np.float32(1.0) / (np.float32(1.0) + np.exp(-v))
    return _act(v, code)


@njit(**NUMBA_FLAGS)
def _accumulate_up(x, fh, fw, c0, first, code, out):
    # out[:, c0:c0+C] (= or +=) x up-sampled by (fh, fw); code >= 0: apply that activation after
    # NOTE: each input row is widened once into ``urow`` and reused for its fh output rows, so every
    # inner loop is a plain unit-stride copy / add (vectorised); ``ox // fw`` per element was not
    n, c, h, w = x.shape
    ho, wo = out.shape[2], out.shape[3]
    urow = np.empty(wo, np.float32)
    for b in range(n):
        for ci in range(c):
            for iy in range(h):
                row = x[b, ci, iy]
                if fw == 1:
                    src = row
                else:
                    for ix in range(w):
                        v = row[ix]
                        for j in range(fw):
                            urow[ix * fw + j] = v
                    src = urow
                for oy in range(iy * fh, min(iy * fh + fh, ho)):
                    orow = out[b, c0 + ci, oy]
                    if first:
                        for ox in range(wo):
                            orow[ox] = src[ox]
                    else:
                        for ox in range(wo):
                            orow[ox] += src[ox]
                    if code > 0:
                        for ox in range(wo):
                            orow[ox] = _act_graph(orow[ox], code)


def _nchw(x):
    return np.ascontiguousarray(x, dtype=np.float32)


def add(xs, ups, act: str = "none", out=None) -> np.ndarray:
    """Sum of ``xs`` (NCHW), input i nearest-up-sampled by ``ups[i] = (fh, fw)``, then ``act``; into
    ``out`` when given (NCHW-contiguous float32; may be ``xs[0]`` when ``ups[0] == (1, 1)``)."""
    x0, (fh, fw) = xs[0], ups[0]
    n, c, h, w = x0.shape
    if out is None:
        out = np.empty((n, c, h * fh, w * fw), np.float32)
    code = GRAPH_ACT_CODES[act]
    last = len(xs) - 1
    for i, (x, (fh, fw)) in enumerate(zip(xs, ups)):
        if i == 0 and x is out:
            if last == 0:
                _affine_planes(out.reshape(n, c, -1), np.ones(c, np.float32), np.zeros(c, np.float32), code,
                               out.reshape(n, c, -1))
            continue
        _accumulate_up(_nchw(x), fh, fw, 0, i == 0, code if i == last else 0, out)
    return out


@njit(**NUMBA_FLAGS)
def _concat_up_nhwc(xs, ups, out):
    # out (N, H, W, sum C_i) = the NHWC inputs xs[i] (N, H/fh_i, W/fw_i, C_i) up-sampled by ups[i], side by side
    # NOTE: one output row at a time, every input into it while it sits in L2: one input per pass over the
    # whole output re-read each partly written cache line once per input (C_i = 24 floats is 1.5 lines)
    n, ho, wo, _ = out.shape
    for b in range(n):
        for oy in range(ho):
            c0 = 0
            for i in range(len(xs)):
                x = xs[i]
                fh, fw = ups[i, 0], ups[i, 1]
                c = x.shape[3]
                src = x[b, oy // fh]
                dst = out[b, oy]
                for ix in range(x.shape[2]):
                    s = src[ix]
                    for j in range(fw):
                        d = dst[ix * fw + j]
                        for ci in range(c):
                            d[c0 + ci] = s[ci]
                c0 += c


def concat(xs, ups) -> np.ndarray:
    """Channel concatenation of ``xs`` (NCHW), input i nearest-up-sampled by ``ups[i]`` on the way in.

    When every input has NHWC memory (PP-OCRv4 detector's FPN branches: Winograd convs, then SE), the result has
    NHWC memory too (an NCHW view), which the next Winograd conv reads without a copy."""
    from .conv import nhwc_of

    (fh, fw) = ups[0]
    n, _, h, w = xs[0].shape
    hs = [nhwc_of(x) for x in xs]
    if all(x is not None for x in hs):
        out = np.empty((n, h * fh, w * fw, sum(x.shape[1] for x in xs)), np.float32)
        _concat_up_nhwc(tuple(hs), np.array(ups, np.int64).reshape(-1, 2), out)
        return out.transpose(0, 3, 1, 2)
    out = np.empty((n, sum(x.shape[1] for x in xs), h * fh, w * fw), np.float32)
    c0 = 0
    for x, (fh, fw) in zip(xs, ups):
        _accumulate_up(_nchw(x), fh, fw, c0, True, 0, out)
        c0 += x.shape[1]
    return out


def upsample_nearest(x: np.ndarray, up) -> np.ndarray:
    """Nearest up-sampling by integer ``(fh, fw)``."""
    return concat([x], [up])


@njit(**NUMBA_FLAGS)
def _affine_planes(x, scale, shift, code, out):
    # x, out (N, C, P): out = act(x * scale[c] + shift[c])
    n, c, p = x.shape
    for b in range(n):
        for ci in range(c):
            s, t = scale[ci], shift[ci]
            for k in range(p):
                out[b, ci, k] = _act_graph(x[b, ci, k] * s + t, code)


def affine(x: np.ndarray, scale: np.ndarray, shift: np.ndarray, out=None) -> np.ndarray:
    """``x * scale[c] + shift[c]`` over axis 1 of an (N, C, ...) array, into ``out`` when given (may be ``x``)."""
    xc = _nchw(x)
    if out is None:
        out = np.empty(xc.shape, np.float32)
    n, c = xc.shape[:2]
    _affine_planes(xc.reshape(n, c, -1), scale, shift, 0, out.reshape(n, c, -1))
    return out


def act(x: np.ndarray, act: str, out=None) -> np.ndarray:
    """A standalone activation, into ``out`` when given (may be ``x``)."""
    xc = _nchw(x)
    if out is None:
        out = np.empty(xc.shape, np.float32)
    flat = xc.reshape(1, 1, -1)
    _affine_planes(flat, np.ones(1, np.float32), np.zeros(1, np.float32), GRAPH_ACT_CODES[act], out.reshape(1, 1, -1))
    return out


@njit(**NUMBA_FLAGS)
def _gap(x, out):
    # x (N, C, P) -> out (N, C) mean over P
    n, c, p = x.shape
    inv = np.float32(1.0) / np.float32(p)
    for b in range(n):
        for ci in range(c):
            s = np.float32(0.0)
            for k in range(p):
                s += x[b, ci, k]
            out[b, ci] = s * inv


def global_avg_pool(x: np.ndarray) -> np.ndarray:  # (N, C, H, W) -> (N, C)
    """Mean over H and W."""
    xc = _nchw(x)
    out = np.empty(xc.shape[:2], np.float32)
    _gap(xc.reshape(xc.shape[0], xc.shape[1], -1), out)
    return out


@njit(**NUMBA_FLAGS)
def _bias_act_affine_planes(y, bias, code, scale, shift):
    # y (N, O, P) in place: y = act(y + bias[o]) * scale[o] + shift[o] (the conv epilogue, then the affine layer)
    n, o_len, p_len = y.shape
    for b in range(n):
        for o in range(o_len):
            bo, s, t = bias[o], scale[o], shift[o]
            for p in range(p_len):
                v = _act(y[b, o, p] + bo, code)
                y[b, o, p] = v * s + t


def conv2d_affine(x, weight, bias, stride, pad, groups, act, scale, shift) -> np.ndarray:
    """``conv2d`` then ``x * scale[c] + shift[c]``: an affine layer the graph folded into the conv before it.

    NOTE: PP-OCRv4's detector follows most pointwise convs with a learnable affine; in the pointwise
    conv's epilogue it costs no pass of its own over the (up to 80 MB) output. Other convs run the
    affine in place after the conv."""
    from .conv import conv2d

    n, c, h, w = x.shape
    if not hasattr(weight, "wino") and groups == 1 and weight.shape[2:] == (1, 1) and tuple(stride) == (1, 1) \
            and tuple(pad) == (0, 0):
        # same GEMM as conv2d's pointwise path, then the fused epilogue
        o, p_len = weight.shape[0], h * w
        xc = np.ascontiguousarray(x, dtype=np.float32)
        out = np.empty((n, o, h, w), np.float32)
        wmat = weight.reshape(o, c)
        for bi in range(n):
            np.matmul(wmat, xc[bi].reshape(c, p_len), out=out[bi].reshape(o, p_len))
        b = bias if bias is not None else np.zeros(o, np.float32)
        _bias_act_affine_planes(out.reshape(n, o, p_len), b, ACT_CODES[act], scale, shift)
        return out
    y = conv2d(x, weight, bias, stride, pad, groups, act)
    return affine(y, scale, shift, out=y if y.flags.c_contiguous else None)
