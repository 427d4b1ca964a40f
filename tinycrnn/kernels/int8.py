"""Numba int8 kernels: conv2d (direct, NHWC uint8 x packed int8 -> int32), linear / LSTM input
projections (dynamic per-line int8 GEMM) and the int8 LSTM recurrence, all on the VNNI tiles of
:mod:`.microkernel`. Twins: ``ref.conv2d_int8_ref``, ``ref.linear_int8_ref``, ``ref.bilstm_int8_ref``.

The drivers shared with the AVX2 module (quantisers, packing, the linear layer, the BiLSTM and its
recurrence) are :mod:`.int8_drivers`; this module keeps what is specific to its tiles (conv, GEMM epilogue). The
pointwise conv is :mod:`.int8_pointwise` (re-exported here, so this module stays the VNNI/portable build's int8 namespace).

Activations stay float32 NCHW between ops: each kernel quantises its input on entry and
dequantises (scale, bias, activation fused) on exit, so ops keep one tensor type.
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS_EXACT
from ..quant import UMAX, dynamic_uscale_rows, inv_scale
from . import int8_drivers as D
from . import arm_vec, int8_pointwise, tiles_arm
from .activations import ACT_CODES, _act
from .cpu_features import IS_AARCH64
from .int8_drivers import _ceil
from .microkernel import HAS_S8S8, LANES, TAP0, U8S8_A_BIAS, tile_kernel

MR, NV = 8, 2
NR = NV * LANES
_T8 = tile_kernel("u8s8", 8, NV)
#: The conv's tiles. On aarch64 dotprod its activations are stored flipped (``q ^ 0x80``, border 0x80 = a zero input)
#: and run on the s8 x s8 tile: the same sums as the u8s8 tile's ``(a ^ 0x80) . b`` without its eor per a load;
#: elsewhere (x86) ``_FLIP`` is 0 and these are the u8s8 tiles.
_FLIP = 0x80 if HAS_S8S8 else 0
_CK = "s8s8" if HAS_S8S8 else "u8s8"
_C8 = tile_kernel(_CK, 8, NV)
_C4 = tile_kernel(_CK, 4, NV)
_C2 = tile_kernel(_CK, 2, NV)
_C1 = tile_kernel(_CK, 1, NV)
_CONV_EPI = tiles_arm.make_conv_epilogue(MR, NR)
_GEMM_EPI = arm_vec.make_gemm_epilogue(MR, NR)
_TR16 = arm_vec.transpose16
#: the pointwise conv, so this module is the whole int8 namespace of the VNNI and portable builds
pack_pointwise_int8, pointwise_int8 = int8_pointwise.pack_pointwise_int8, int8_pointwise.pointwise_int8


# ---- conv2d ---------------------------------------------------------------------------------


def pack_conv_int8(w_q: np.ndarray):  # (O, C, kh, kw) int8 -> packed tuple
    """Weights as ``(O/NR, kh*kw, C4, NR, 4)`` int8 (C and O zero-padded) so one vpdpbusd step reads 64 bytes,
    plus ``cbias[o] = U8S8_A_BIAS * sum w_q[o]``, what the tile leaves out (0 except on aarch64 sdot)."""
    o = w_q.shape[0]
    cbias = D._padded(U8S8_A_BIAS * w_q.astype(np.int32).sum(axis=(1, 2, 3)), _ceil(o, NR), np.int32)
    return (D.pack_conv(w_q, 4, np.int8, NR),) + w_q.shape + (cbias,)


@njit(**NUMBA_FLAGS_EXACT)
def _quant_nhwc_u8(x, inv_line, ph, pw, xp):
    # x (N, C, H, W) float32 -> xp (N, Hp, Wp, Cp) uint8 = clip(rint(x * inv_line[n]), 0, 255) ^ _FLIP; border stays
    # as it is (0, or _FLIP from _conv_setup).
    # NOTE: one image row at a time: quantise along W into row (C*W uint8: contiguous, LLVM vectorises it), then
    # transpose bytes into NHWC; the single strided loop this replaces cost ~17 instructions per element on aarch64
    n, c, h, w = x.shape
    row = np.empty(c * w, np.uint8)
    for b in range(n):
        inv = inv_line[b]
        for iy in range(h):
            for ci in range(c):
                xr = x[b, ci, iy]
                rr = row[ci * w : ci * w + w]
                for ix in range(w):
                    v = np.rint(xr[ix] * inv)
                    if _FLIP:
                        rr[ix] = np.uint8(np.int32(min(max(v, np.float32(0.0)), np.float32(UMAX))) ^ _FLIP)
                    else:
                        rr[ix] = np.uint8(min(max(v, np.float32(0.0)), np.float32(UMAX)))
            if IS_AARCH64:  # whole 16 x 16 blocks as byte transposes (arm_vec.transpose16), then the edges
                cp = xp.shape[3]
                xpf = xp.reshape(-1)
                base = ((b * xp.shape[1] + iy + ph) * xp.shape[2] + pw) * cp
                w16, c16 = w - w % 16, c - c % 16
                for ci0 in range(0, c16, 16):
                    for ix0 in range(0, w16, 16):
                        _TR16(row, ci0 * w + ix0, w, xpf, base + ix0 * cp + ci0, cp)
                for ix in range(w):
                    dst = xp[b, iy + ph, ix + pw]
                    for ci in range(0 if ix >= w16 else c16, c):
                        dst[ci] = row[ci * w + ix]
                continue
            for ix in range(w):
                dst = xp[b, iy + ph, ix + pw]
                for ci in range(c):
                    dst[ci] = row[ci * w + ix]


@njit(**NUMBA_FLAGS_EXACT)
def _conv_u8(xp, sh, sw, taps, k4, wpk, cbias, s_line, w_scale, bias, code, raw, out, out_acc, ctile):
    # acc (N, O, Ho, Wo) int32 = sum_taps,c xp * w + cbias[o] (8 output pixels x 32 channels per tile; a row's
    # last 1-4 pixels on a smaller tile);
    # out = act(acc * (s_line[n] * w_scale[o]) + bias[o]) float32, or the raw acc into out_acc when raw
    n, hp, wp, cp = xp.shape
    if raw:
        _, o_len, ho, wo = out_acc.shape
    else:
        _, o_len, ho, wo = out.shape
    xf = xp.reshape(-1)
    of = out.reshape(-1)
    blk = taps.shape[0] * k4 * NR * 4
    for ob in range(-(-o_len // NR)):
        for b in range(n):
            for oy in range(ho):
                for x0 in range(0, wo, MR):
                    a_off = ((b * hp + oy * sh) * wp + x0 * sw) * cp
                    rem = wo - x0
                    if rem > 4:
                        _C8(ctile, xf, a_off, sw * cp, taps, k4, wpk, ob * blk)
                    elif rem > 2:
                        _C4(ctile, xf, a_off, sw * cp, taps, k4, wpk, ob * blk)
                    elif rem == 2:
                        _C2(ctile, xf, a_off, sw * cp, taps, k4, wpk, ob * blk)
                    else:
                        _C1(ctile, xf, a_off, sw * cp, taps, k4, wpk, ob * blk)
                    if IS_AARCH64 and not raw and rem >= MR and o_len - ob * NR >= NR and code <= 1:
                        _CONV_EPI(ctile, of, ((b * o_len + ob * NR) * ho + oy) * wo + x0, ho * wo, cbias, s_line[b],
                                  w_scale, bias, ob * NR, code == 1)
                        continue
                    for j in range(min(NR, o_len - ob * NR)):
                        o = ob * NR + j
                        if U8S8_A_BIAS != 0:
                            cb = cbias[o]
                            for i in range(min(MR, rem)):
                                ctile[i * NR + j] += cb
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
    xp, taps, k4, (ho, wo) = D.conv_setup(shape, pack[3], pack[4], stride, pad, MR, 4, np.uint8)
    if _FLIP:
        xp.fill(_FLIP)
    return xp, taps, k4, (shape[0], pack[1], ho, wo)


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
    _conv_u8(xp, stride[0], stride[1], taps, k4, pack[0], pack[5], s, w_scale, b, ACT_CODES[act], False, out, dummy,
             np.empty(MR * NR, np.int32))
    return out


def conv2d_int8_acc(x_q: np.ndarray, pack, stride=(1, 1), pad=(0, 0)) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, O, Ho, Wo) int32 accumulators (the part tests compare bit-exactly)."""
    n, c, h, w = x_q.shape
    xp, taps, k4, oshape = _conv_setup(x_q.shape, pack, stride, pad)
    xp[:, pad[0] : pad[0] + h, pad[1] : pad[1] + w, :c] = x_q.transpose(0, 2, 3, 1) ^ np.uint8(_FLIP)
    acc = np.empty(oshape, np.int32)
    dummy = np.empty((1, 1, 1, 1), np.float32)
    zero = np.zeros(1, np.float32)
    _conv_u8(xp, stride[0], stride[1], taps, k4, pack[0], pack[5], zero, zero, zero, 0, True, dummy, acc,
             np.empty(MR * NR, np.int32))
    return acc


# ---- linear / GEMM (dynamic per-line int8 inputs) -------------------------------------------


def pack_linear_int8(w_q: np.ndarray, w_scale: np.ndarray):  # (O, K) int8, (O,) float32 -> packed tuple
    """``(O/NR, K4, NR, 4)`` int8 plus ``corr[o] = 128 * sum_k w_q[o, k]``: inputs enter vpdpbusd as
    ``x_q + 128`` (unsigned), and subtracting ``corr`` restores the signed product exactly (:func:`.int8_drivers.pack_linear`;
    ``corr = 0`` where the tile already subtracts the 128: ``U8S8_A_BIAS``)."""
    return D.pack_linear(w_q, w_scale, 128, NR, corr_off=128 - U8S8_A_BIAS)


@njit(**NUMBA_FLAGS_EXACT)
def _gemm_u8(a, m_len, rows_per_line, wpk, corr, s_line, w_scale, bias, code, y, ctile):
    # acc (M, O) int32 = (a - 128) @ w.T ; y = act(acc * (s_line[m // rows] * w_scale[o]) + bias[o])
    mp, kp = a.shape
    o_len = y.shape[1]
    af = a.reshape(-1)
    k4 = kp // 4
    blk = k4 * NR * 4
    taps = TAP0
    for ob in range(-(-o_len // NR)):
        for m0 in range(0, m_len, MR):
            _T8(ctile, af, m0 * kp, kp, taps, k4, wpk, ob * blk)
            if IS_AARCH64 and o_len - ob * NR >= NR and code <= 1:
                _GEMM_EPI(ctile, y, min(MR, m_len - m0), m0, ob * NR, corr, s_line, rows_per_line, w_scale, bias,
                          code == 1)
                continue
            for i in range(min(MR, m_len - m0)):
                m = m0 + i
                sl = s_line[m // rows_per_line]
                for j in range(NR):
                    o = ob * NR + j
                    if o >= o_len:
                        break
                    acc = ctile[i * NR + j] - corr[o]
                    y[m, o] = _act(np.float32(acc) * (sl * w_scale[o]) + bias[o], code)


def _linear_q(a, s, t_len, pack, bias, act, m_len):
    wpk, corr, w_scale, o, _, _ = pack
    y = np.empty((m_len, o), np.float32)
    b = bias if bias is not None else np.zeros(o, np.float32)
    _gemm_u8(a, m_len, t_len, wpk, corr, s, w_scale, b, ACT_CODES[act], y, np.empty(MR * NR, np.int32))
    return y


def linear_int8(x: np.ndarray, pack, bias, act: str = "none") -> np.ndarray:  # (N, T, I) -> (N, T, O) float32
    """Dynamic per-line int8 linear layer (``pack`` from :func:`pack_linear_int8`)."""
    return D.linear(x, pack, bias, act, MR, _linear_q)


# ---- LSTM -----------------------------------------------------------------------------------


def pack_lstm_int8(w_ih_q, w_ih_scale, w_hh_q, w_hh_scale, b):
    """Both matrices packed for the VNNI tile (:func:`.int8_drivers.pack_lstm`)."""
    return D.pack_lstm(w_ih_q, w_ih_scale, w_hh_q, w_hh_scale, b, 128, NR, 128 - U8S8_A_BIAS)


_lstm_rec = D.make_lstm_rec(D.ZMM, MR, NR)


def bilstm_int8(x: np.ndarray, fwd, bwd) -> np.ndarray:  # (N, T, I) float32 -> (N, T, 2H) float32
    """Bidirectional int8 LSTM; ``fwd``/``bwd`` from :func:`pack_lstm_int8`; up to 8 lines share each weight load."""
    return D.bilstm(x, fwd, bwd, MR, NR, _linear_q, _lstm_rec)
