"""Numba int8 kernels: conv2d (direct, NHWC uint8 x packed int8 -> int32), linear / LSTM input
projections (dynamic per-line int8 GEMM) and the int8 LSTM recurrence, all on the VNNI tiles of
:mod:`.microkernel`. Twins: ``ref.conv2d_int8_ref``, ``ref.linear_int8_ref``, ``ref.bilstm_int8_ref``.

Activations stay float32 NCHW between ops: each kernel quantises its input on entry and
dequantises (scale, bias, activation fused) on exit, so ops keep one tensor type.
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS_EXACT
from ..quant import H_QSCALE, QMAX, UMAX, dynamic_scale_rows, dynamic_uscale_rows, inv_scale
from .activations import ACT_CODES, _act, _sigmoid, _tanh
from .microkernel import LANES, tile_kernel

MR, NV = 8, 2
NR = NV * LANES
_T8 = tile_kernel("u8s8", 8, NV)
_T4 = tile_kernel("u8s8", 4, NV)
_T2 = tile_kernel("u8s8", 2, NV)
_T1 = tile_kernel("u8s8", 1, NV)


def _ceil(a, b):
    return -(-a // b) * b


# ---- conv2d ---------------------------------------------------------------------------------


def pack_conv_int8(w_q: np.ndarray):  # (O, C, kh, kw) int8 -> packed tuple
    """Weights as ``(O/NR, kh*kw, C4, NR, 4)`` int8 (C and O zero-padded) so one vpdpbusd step reads 64 bytes."""
    o, c, kh, kw = w_q.shape
    cp, op = _ceil(c, 4), _ceil(o, NR)
    w = np.zeros((op, kh, kw, cp), np.int8)
    w[:o, :, :, :c] = w_q.transpose(0, 2, 3, 1)
    w = w.reshape(op // NR, NR, kh * kw, cp // 4, 4).transpose(0, 2, 3, 1, 4)
    return (np.ascontiguousarray(w).reshape(-1), o, c, kh, kw)


@njit(**NUMBA_FLAGS_EXACT)
def _quant_nhwc_u8(x, inv_line, ph, pw, xp):
    # x (N, C, H, W) float32 -> xp (N, Hp, Wp, Cp) uint8 = clip(rint(x * inv_line[n]), 0, 255); border stays 0
    n, c, h, w = x.shape
    for b in range(n):
        inv = inv_line[b]
        for iy in range(h):
            for ci in range(c):
                for ix in range(w):
                    v = np.rint(x[b, ci, iy, ix] * inv)
                    xp[b, iy + ph, ix + pw, ci] = np.uint8(min(max(v, np.float32(0.0)), np.float32(UMAX)))


@njit(**NUMBA_FLAGS_EXACT)
def _conv_u8(xp, sh, sw, taps, k4, wpk, s_line, w_scale, bias, code, raw, out, out_acc, ctile):
    # acc (N, O, Ho, Wo) int32 = sum_taps,c xp * w  (8 output pixels x 32 channels per tile);
    # out = act(acc * (s_line[n] * w_scale[o]) + bias[o]) float32, or the raw acc into out_acc when raw
    n, hp, wp, cp = xp.shape
    if raw:
        _, o_len, ho, wo = out_acc.shape
    else:
        _, o_len, ho, wo = out.shape
    xf = xp.reshape(-1)
    blk = taps.shape[0] * k4 * NR * 4
    for ob in range(-(-o_len // NR)):
        for b in range(n):
            for oy in range(ho):
                for x0 in range(0, wo, MR):
                    a_off = ((b * hp + oy * sh) * wp + x0 * sw) * cp
                    _T8(ctile, xf, a_off, sw * cp, taps, k4, wpk, ob * blk)
                    for j in range(min(NR, o_len - ob * NR)):
                        o = ob * NR + j
                        if raw:
                            for i in range(min(MR, wo - x0)):
                                out_acc[b, o, oy, x0 + i] = ctile[i * NR + j]
                            continue
                        # NOTE: scale and bias loaded once per channel: stores to `out` may alias
                        # them (all float32), so LLVM re-loads anything read inside the pixel loop
                        # (that cost 3x the int8 products on the first conv)
                        sc = s_line[b] * w_scale[o]
                        bo = bias[o]
                        for i in range(min(MR, wo - x0)):
                            out[b, o, oy, x0 + i] = _act(np.float32(ctile[i * NR + j]) * sc + bo, code)


def _conv_setup(shape, pack, stride, pad):
    n, c, h, w = shape
    _, o, c_w, kh, kw = pack
    sh, sw = stride
    ph, pw = pad
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    cp = _ceil(c, 4)
    wp = max(w + 2 * pw, (_ceil(wo, MR) - 1) * sw + kw)
    xp = np.zeros((n, h + 2 * ph, wp, cp), np.uint8)
    taps = np.array([(i * wp + j) * cp for i in range(kh) for j in range(kw)], np.int64)
    return xp, taps, cp // 4, (n, o, ho, wo)


def conv2d_int8(
    x: np.ndarray,  # (N, C, H, W) float32, >= 0
    pack,  # from pack_conv_int8
    w_scale: np.ndarray,  # (O,) float32
    bias,  # (O,) float32 or None
    stride=(1, 1),
    pad=(0, 0),
    act: str = "none",
) -> np.ndarray:  # (N, O, Ho, Wo) float32
    """Quantise x to uint8 (dynamic scale per line), int8 direct conv with int32 accumulation,
    fused dequant + bias + act. The per-line max is one extra pass over a cache-resident input."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    s = dynamic_uscale_rows(x)
    xp, taps, k4, oshape = _conv_setup(x.shape, pack, stride, pad)
    _quant_nhwc_u8(x, np.array([inv_scale(v) for v in s], np.float32), pad[0], pad[1], xp)
    out = np.empty(oshape, np.float32)
    b = bias if bias is not None else np.zeros(oshape[1], np.float32)
    dummy = np.empty((1, 1, 1, 1), np.int32)
    _conv_u8(xp, stride[0], stride[1], taps, k4, pack[0], s, w_scale, b, ACT_CODES[act], False, out, dummy,
             np.empty(MR * NR, np.int32))
    return out


def conv2d_int8_acc(x_q: np.ndarray, pack, stride=(1, 1), pad=(0, 0)) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, O, Ho, Wo) int32 accumulators (the part tests compare bit-exactly)."""
    n, c, h, w = x_q.shape
    xp, taps, k4, oshape = _conv_setup(x_q.shape, pack, stride, pad)
    xp[:, pad[0] : pad[0] + h, pad[1] : pad[1] + w, :c] = x_q.transpose(0, 2, 3, 1)
    acc = np.empty(oshape, np.int32)
    dummy = np.empty((1, 1, 1, 1), np.float32)
    zero = np.zeros(1, np.float32)
    _conv_u8(xp, stride[0], stride[1], taps, k4, pack[0], zero, zero, zero, 0, True, dummy, acc, np.empty(MR * NR, np.int32))
    return acc


# ---- linear / GEMM (dynamic per-line int8 inputs) -------------------------------------------


def pack_linear_int8(w_q: np.ndarray, w_scale: np.ndarray):  # (O, K) int8, (O,) float32 -> packed tuple
    """``(O/NR, K4, NR, 4)`` int8 plus ``corr[o] = 128 * sum_k w_q[o, k]``: inputs enter vpdpbusd as
    ``x_q + 128`` (unsigned), and subtracting ``corr`` restores the signed product exactly."""
    o, k = w_q.shape
    kp, op = _ceil(k, 4), _ceil(o, NR)
    w = np.zeros((op, kp), np.int8)
    w[:o, :k] = w_q
    wpk = np.ascontiguousarray(w.reshape(op // NR, NR, kp // 4, 4).transpose(0, 2, 1, 3)).reshape(-1)
    corr = (128 * w_q.astype(np.int32).sum(axis=1)).astype(np.int32)
    return (wpk, corr, np.ascontiguousarray(w_scale, dtype=np.float32), o, k)


@njit(**NUMBA_FLAGS_EXACT)
def _quant_rows_u8(x, inv, rows_per_line, a):
    # x (M, K) float32 -> a (Mp, Kp) uint8 = clip(rint(x * inv[m // rows_per_line]), -127, 127) + 128
    m_len, k_len = x.shape
    for m in range(m_len):
        s = inv[m // rows_per_line]
        for k in range(k_len):
            v = min(max(np.rint(x[m, k] * s), np.float32(-QMAX)), np.float32(QMAX))
            a[m, k] = np.uint8(np.int32(v) + 128)


@njit(**NUMBA_FLAGS_EXACT)
def _gemm_u8(a, m_len, rows_per_line, wpk, corr, s_line, w_scale, bias, code, y, ctile):
    # acc (M, O) int32 = (a - 128) @ w.T ; y = act(acc * (s_line[m // rows] * w_scale[o]) + bias[o])
    mp, kp = a.shape
    o_len = y.shape[1]
    af = a.reshape(-1)
    k4 = kp // 4
    blk = k4 * NR * 4
    taps = np.zeros(1, np.int64)
    for ob in range(-(-o_len // NR)):
        for m0 in range(0, m_len, MR):
            _T8(ctile, af, m0 * kp, kp, taps, k4, wpk, ob * blk)
            for i in range(min(MR, m_len - m0)):
                m = m0 + i
                sl = s_line[m // rows_per_line]
                for j in range(NR):
                    o = ob * NR + j
                    if o >= o_len:
                        break
                    acc = ctile[i * NR + j] - corr[o]
                    y[m, o] = _act(np.float32(acc) * (sl * w_scale[o]) + bias[o], code)


def _quantize_lines(x):  # (N, T, K) float32 -> (a (Mp, Kp) uint8, s (N,) float32)
    n, t_len, k = x.shape
    s = dynamic_scale_rows(x)
    inv = np.array([inv_scale(v) for v in s], np.float32)
    a = np.full((_ceil(n * t_len, MR), _ceil(k, 4)), 128, np.uint8)
    _quant_rows_u8(np.ascontiguousarray(x, dtype=np.float32).reshape(n * t_len, k), inv, t_len, a)
    return a, s


def _linear_q(a, s, t_len, pack, bias, act, m_len):
    wpk, corr, w_scale, o, _ = pack
    y = np.empty((m_len, o), np.float32)
    b = bias if bias is not None else np.zeros(o, np.float32)
    _gemm_u8(a, m_len, t_len, wpk, corr, s, w_scale, b, ACT_CODES[act], y, np.empty(MR * NR, np.int32))
    return y


def linear_int8(x: np.ndarray, pack, bias, act: str = "none") -> np.ndarray:  # (N, T, I) -> (N, T, O) float32
    """Dynamic per-line int8 linear layer (``pack`` from :func:`pack_linear_int8`)."""
    n, t_len, _ = x.shape
    a, s = _quantize_lines(x)
    return _linear_q(a, s, t_len, pack, bias, act, n * t_len).reshape(n, t_len, -1)


# ---- LSTM -----------------------------------------------------------------------------------


def pack_lstm_int8(w_ih_q, w_ih_scale, w_hh_q, w_hh_scale, b):
    """Both matrices packed for the VNNI tile; ``hs = w_hh_scale / 127`` folds the fixed h scale."""
    hs = (np.asarray(w_hh_scale, np.float32) * H_QSCALE).astype(np.float32)
    hh = pack_linear_int8(w_hh_q, hs)
    return (pack_linear_int8(w_ih_q, w_ih_scale), hh[0], hh[1], hs, np.ascontiguousarray(b, dtype=np.float32))


@njit(**NUMBA_FLAGS_EXACT)
def _lstm_rec_u8(xw, whh, corr, hs, reverse, out, col0, hq, z, c, ctile):
    # per step: acc (N, 4H) int32 = (hq - 128) @ w_hh.T ; z = xw_t + acc * hs ; gates i, f, g, o
    # hq (MRp, H) uint8 = rint(h * 127) + 128; MRp in {1, 2, 4, 8} lines share each weight load
    n, t_len, g4 = xw.shape
    hid = g4 // 4
    mrp, kp = hq.shape
    hf = hq.reshape(-1)
    k4 = kp // 4
    blk = k4 * NR * 4
    taps = np.zeros(1, np.int64)
    hq[:, :] = 128
    c[:, :] = 0.0
    for s in range(t_len):
        t = t_len - 1 - s if reverse else s
        for ob in range(-(-g4 // NR)):
            if mrp == 8:
                _T8(ctile, hf, 0, kp, taps, k4, whh, ob * blk)
            elif mrp == 4:
                _T4(ctile, hf, 0, kp, taps, k4, whh, ob * blk)
            elif mrp == 2:
                _T2(ctile, hf, 0, kp, taps, k4, whh, ob * blk)
            else:
                _T1(ctile, hf, 0, kp, taps, k4, whh, ob * blk)
            for b in range(n):
                for j in range(min(NR, g4 - ob * NR)):
                    g = ob * NR + j
                    z[b, g] = xw[b, t, g] + np.float32(ctile[b * NR + j] - corr[g]) * hs[g]
        for b in range(n):
            for j in range(hid):
                cj = _sigmoid(z[b, hid + j]) * c[b, j] + _sigmoid(z[b, j]) * _tanh(z[b, 2 * hid + j])
                c[b, j] = cj
                hj = _sigmoid(z[b, 3 * hid + j]) * _tanh(cj)
                out[b, t, col0 + j] = hj
                v = min(max(np.rint(hj * np.float32(QMAX)), np.float32(-QMAX)), np.float32(QMAX))
                hq[b, j] = np.uint8(np.int32(v) + 128)


def bilstm_int8(x: np.ndarray, fwd, bwd) -> np.ndarray:  # (N, T, I) float32 -> (N, T, 2H) float32
    """Bidirectional int8 LSTM; ``fwd``/``bwd`` from :func:`pack_lstm_int8`. Lines go through the
    recurrence up to 8 at a time, so a batch shares every recurrent weight load."""
    n, t_len, _ = x.shape
    hid = fwd[3].shape[0] // 4
    out = np.empty((n, t_len, 2 * hid), np.float32)
    a, s = _quantize_lines(x)
    for col0, (ih, whh, corr, hs, b), reverse in ((0, fwd, False), (hid, bwd, True)):
        xw = _linear_q(a, s, t_len, ih, b, "none", n * t_len).reshape(n, t_len, 4 * hid)
        for b0 in range(0, n, 8):
            nb = min(8, n - b0)
            mrp = 1 if nb == 1 else 2 if nb == 2 else 4 if nb <= 4 else 8
            ob = np.empty((nb, t_len, hid), np.float32)
            _lstm_rec_u8(xw[b0 : b0 + nb], whh, corr, hs, reverse, ob, 0, np.empty((mrp, _ceil(hid, 4)), np.uint8),
                         np.empty((nb, 4 * hid), np.float32), np.empty((nb, hid), np.float32),
                         np.empty(mrp * NR, np.int32))
            out[b0 : b0 + nb, :, col0 : col0 + hid] = ob
    return out
