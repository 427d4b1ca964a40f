"""Int8 kernels for x86 CPUs with AVX2 but without AVX-512 VNNI, on the ymm tiles of :mod:`.tiles_avx2`:
the same functions and results as :mod:`.int8` (which keeps the AVX-512 VNNI path), bit-exact against
the same twins (``ref.conv2d_int8_ref``, ``ref.pointwise_int8_ref``, ``ref.linear_int8_ref``,
``ref.bilstm_int8_ref``).

Two layouts, chosen once at import from the CPU's features (``LAYOUT``) and recorded in every pack:

- ``"avx2"``: everything on int16 pairs (``vpmaddwd``): activations and weights widened once when they
  are quantised or packed; no offsets, no corrections (why not vpmaddubsw: :mod:`.tiles_avx2`).
- ``"avxvnni"``: everything on uint8 x int8 quads (VEX vpdpbusd); signed inputs enter as ``q + 128``
  and the exact correction ``128 * sum(w)`` is subtracted, as on the AVX-512 path.

Stride-1 3x3 pad-1 and 2x2 pad-0 convs in the ``"avx2"`` layout run as exact integer Winograd convs
(:mod:`.int8_winograd`: the same accumulators, 2.25x fewer multiplies). The pointwise conv and the linear
layer run on :func:`.tiles_avx2_fused.fused_kernel` (dequantisation, bias and
activation applied to the accumulators in registers); the drivers shared with :mod:`.int8` (quantisers,
packing, the linear layer, the BiLSTM) are :mod:`.int8_drivers`.

NOTE: the conv writes NHWC memory (returned as an NCHW view, like the FP32 Winograd convs): a tile's
row is one pixel's 16 channels, stored as one vector, and the next conv or max-pool reads NHWC
without a transpose. The pointwise conv keeps NCHW (its tile rows are channels), which the FP32
depthwise convs around it expect.
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS_EXACT
from ..quant import QMAX, UMAX, dynamic_uscale_rows, inv_scale
from . import int8_drivers as D
from . import int8_winograd as W
from .activations import ACT_CODES
from .int8 import _quant_nhwc_u8
from .int8_drivers import _ceil, _padded
from .microkernel import TAP0
from .quant_ir import quant_pairs16
from .tiles_avx2 import HAS_AVX2, HAS_AVXVNNI, NR, tile_kernel
from .tiles_avx2_fused import epilogue, fused_kernel

#: Whether this module's kernels run on vector instructions here (``kernels.get_kernels`` uses them then).
AVAILABLE = HAS_AVX2
LAYOUT = "avxvnni" if HAS_AVXVNNI else "avx2"
MR = 6  # tile rows: 12 ymm accumulators + 2 weight vectors + the broadcast (+ vpmaddwd's product)
_TC = tile_kernel(MR)
_PW = fused_kernel(MR, True)  # rows = output channels (bias per row)
_LIN = fused_kernel(MR, False)  # rows = time steps (bias per column)


def _off(layout):
    """The input offset of a layout: 128 (uint8 x int8 quads) or 0 (int16 pairs), :func:`.int8_drivers.layout_types`."""
    return 128 if layout == "avxvnni" else 0


# ---- conv2d (uint8 activations) -----------------------------------------------------------------


def pack_conv_int8(w_q: np.ndarray, layout: str = LAYOUT):  # (O, C, kh, kw) int8 -> packed tuple
    """Weights as ``(O/NR, kh*kw, Cp/E, NR, E)`` (:func:`.int8_drivers.pack_conv`): int16 pairs (E = 2) for
    vpmaddwd, int8 quads (E = 4) for vpdpbusd; on int16 pairs a 3x3 or 2x2 weight also gets its Winograd
    form (:mod:`.int8_winograd`, used by stride-1 calls with its padding), else None."""
    e, _, wdt = D.layout_types(_off(layout))
    wino = W.pack(w_q) if layout == "avx2" and W.packable(w_q.shape) else None
    return (D.pack_conv(w_q, e, wdt, NR),) + w_q.shape + (layout, wino)


@njit(**NUMBA_FLAGS_EXACT)
def _quant_nhwc_in(xt, inv_line, ph, pw, xp):
    # xt (N, H, W, C) float32 (NHWC memory) -> xp[:, ph:ph+H, pw:pw+W, :C] = clip(rint(xt * inv[n]), 0, 255)
    n, h, w, c = xt.shape
    for b in range(n):
        inv = inv_line[b]
        for iy in range(h):
            for ix in range(w):
                row = xp[b, iy + ph, ix + pw]
                src = xt[b, iy, ix]
                for ci in range(c):
                    v = np.rint(src[ci] * inv)
                    row[ci] = np.int32(min(max(v, np.float32(0.0)), np.float32(UMAX)))


@njit(**NUMBA_FLAGS_EXACT)
def _conv(xp, sh, sw, taps, kg, wpk, s_line, w_scale, bias, code, raw, out, out_acc, ctile, sc, bo, zc):
    # acc (N, Ho, Wo, O) int32 = sum_taps,c xp * w  (MR pixels x NR channels per tile); NHWC out =
    # act(acc * (s_line[n] * w_scale[o]) + bias[o]) float32, or the raw acc into out_acc when raw
    n, hp, wp, cp = xp.shape
    if raw:
        _, ho, wo, o_len = out_acc.shape
    else:
        _, ho, wo, o_len = out.shape
    xf = xp.reshape(-1)
    blk = taps.shape[0] * cp * NR
    for ob in range(-(-o_len // NR)):
        o0 = ob * NR
        nj = min(NR, o_len - o0)
        for b in range(n):
            for j in range(nj):
                sc[j] = s_line[b] * w_scale[o0 + j]
                bo[j] = bias[o0 + j]
            for oy in range(ho):
                for x0 in range(0, wo, MR):
                    _TC(ctile, xf, ((b * hp + oy * sh) * wp + x0 * sw) * cp, sw * cp, taps, kg, wpk, ob * blk)
                    for i in range(min(MR, wo - x0)):
                        if raw:
                            dst = out_acc[b, oy, x0 + i]
                            for j in range(nj):
                                dst[o0 + j] = ctile[i * NR + j]
                        else:
                            epilogue(out[b, oy, x0 + i], o0, ctile, i * NR, zc, np.float32(1.0), sc, 0, bo, nj, code)


def _conv_setup(shape, pack, stride, pad):
    e, adt, _ = D.layout_types(_off(pack[5]))
    xp, taps, kg, (ho, wo) = D.conv_setup(shape, pack[3], pack[4], stride, pad, MR, e, adt)
    return xp, taps, kg, (shape[0], ho, wo, pack[1])


def _scratch():
    return np.empty(MR * NR, np.int32), np.empty(NR, np.float32), np.empty(NR, np.float32), np.zeros(NR, np.int32)


def conv2d_int8(x: np.ndarray, pack, w_scale: np.ndarray, bias, stride=(1, 1), pad=(0, 0), act: str = "none"):
    """(N, C, H, W) float32 >= 0 -> (N, O, Ho, Wo) float32 (NHWC memory): uint8 activations with one
    dynamic scale per line, int32 accumulation, fused dequant + bias + act (:func:`.int8.conv2d_int8`)."""
    x = np.asarray(x, dtype=np.float32)
    xt = x.transpose(0, 2, 3, 1)
    nhwc = xt.flags.c_contiguous and not x.flags.c_contiguous
    if not nhwc:
        x = np.ascontiguousarray(x)
    s = dynamic_uscale_rows(xt if nhwc else x)  # a max: the same in either order
    wino = _winograd(pack, stride, pad)
    if wino:
        xp, th, tw, oshape = _winograd_setup(x.shape, pack, pad)
    else:
        xp, taps, kg, oshape = _conv_setup(x.shape, pack, stride, pad)
    inv = np.array([inv_scale(v) for v in s], np.float32)
    if nhwc:
        _quant_nhwc_in(xt, inv, pad[0], pad[1], xp)
    else:
        _quant_nhwc_u8(x, inv, pad[0], pad[1], xp)
    out = np.empty(oshape, np.float32)
    b = bias if bias is not None else np.zeros(oshape[3], np.float32)
    no_acc = np.empty((1, 1, 1, 1), np.int32)
    if wino:
        W.conv(xp, pack[3], th, tw, pack[6], pack[1], s, w_scale, b, ACT_CODES[act], False, out, no_acc)
    else:
        _conv(xp, stride[0], stride[1], taps, kg, pack[0], s, w_scale, b, ACT_CODES[act], False, out, no_acc,
              *_scratch())
    return out.transpose(0, 3, 1, 2)


def _winograd(pack, stride, pad) -> bool:
    """Whether a conv call runs as an exact int8 Winograd conv (:mod:`.int8_winograd`)."""
    return len(pack) > 6 and pack[6] is not None and W.applies(pack[1:5], stride, pad)


def _winograd_setup(shape, pack, pad):
    """The zeroed padded NHWC input, its tile counts and the (N, Ho, Wo, O) output shape of a Winograd conv."""
    n, _, h, w = shape
    xp, th, tw = W.padded_input(shape, pack[3])
    return xp, th, tw, (n, h + 2 * pad[0] - pack[3] + 1, w + 2 * pad[1] - pack[4] + 1, pack[1])


def conv2d_int8_acc(x_q: np.ndarray, pack, stride=(1, 1), pad=(0, 0)) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, O, Ho, Wo) int32 accumulators (the part tests compare bit-exactly)."""
    n, c, h, w = x_q.shape
    zero = np.zeros(1, np.float32)
    if _winograd(pack, stride, pad):
        xp, th, tw, oshape = _winograd_setup(x_q.shape, pack, pad)
        xp[:, pad[0] : pad[0] + h, pad[1] : pad[1] + w, :c] = x_q.transpose(0, 2, 3, 1)
        acc = np.empty(oshape, np.int32)
        W.conv(xp, pack[3], th, tw, pack[6], pack[1], zero, zero, zero, 0, True, np.empty((1, 1, 1, 1), np.float32), acc)
        return np.ascontiguousarray(acc.transpose(0, 3, 1, 2))
    xp, taps, kg, oshape = _conv_setup(x_q.shape, pack, stride, pad)
    xp[:, pad[0] : pad[0] + h, pad[1] : pad[1] + w, :c] = x_q.transpose(0, 2, 3, 1)
    acc = np.empty(oshape, np.int32)
    _conv(xp, stride[0], stride[1], taps, kg, pack[0], zero, zero, zero, 0, True, np.empty((1, 1, 1, 1), np.float32),
          acc, *_scratch())
    return np.ascontiguousarray(acc.transpose(0, 3, 1, 2))


# ---- pointwise (1x1, stride 1, no padding) conv, signed inputs ----------------------------------


@njit(**NUMBA_FLAGS_EXACT)
def _pixel_scales_bits(xi, s_pix, inv_pix, acc, accf):
    # int8_pointwise._pixel_scales on the float bits: xi (N, C, P) int32 = x's bits; |x| as bits (sign cleared) orders like
    # |x| itself, so an integer running max (vpmaxsd) finds the same maximum; acc (P,) int32 scratch, accf its
    # float32 view. NOTE: LLVM leaves the float max (``v if v > s else s``, no fast-math) scalar: 81 us of a
    # 256 x 640 layer against 35 us here. A NaN input makes the pixel's scale NaN (the NumPy twin's max does too).
    n, c, p_len = xi.shape
    tiny = np.float32(1.1754944e-38)
    m = np.int32(0x7FFFFFFF)
    for b in range(n):
        acc[:] = 0
        c4 = c // 4
        for k in range(c4):  # NOTE: 4 channels per pass over acc: 2.3x faster than one (acc's load + store per element)
            x0, x1, x2, x3 = xi[b, 4 * k], xi[b, 4 * k + 1], xi[b, 4 * k + 2], xi[b, 4 * k + 3]
            for p in range(p_len):
                v = max(max(x0[p] & m, x1[p] & m), max(x2[p] & m, x3[p] & m))
                a = acc[p]
                acc[p] = v if v > a else a
        for ci in range(4 * c4, c):
            xr = xi[b, ci]
            for p in range(p_len):
                v = xr[p] & m
                a = acc[p]
                acc[p] = v if v > a else a
        s = s_pix[b]
        iv = inv_pix[b]
        for p in range(p_len):
            sc = accf[p] / np.float32(QMAX)
            s[p] = sc
            iv[p] = np.float32(1.0) / sc if sc >= tiny else np.float32(0.0)


@njit(**NUMBA_FLAGS_EXACT)
def _quant_pixels2(x, inv_pix, a, sx):
    # int8_drivers.quant_pixels_s8 with 2 int16 channels per uint32: q[n, 2k+j, p] in half j of a[n, p // NR, k, p % NR]
    n, c, p_len = x.shape
    _, pb_len, kg, _ = a.shape
    lo, hi = np.float32(-QMAX), np.float32(QMAX)
    m16 = np.int32(65535)
    kf = c // 2
    xf, invf, af = x.reshape(-1), inv_pix.reshape(-1), a.reshape(-1)
    for b in range(n):
        for pb in range(pb_len):
            p0 = pb * NR
            m = min(NR, p_len - p0)
            inv = inv_pix[b, p0 : p0 + m]
            if m == NR:  # a full block: vector IR (quant_ir: ~3x faster than this loop)
                quant_pairs16(xf, b * c * p_len + p0, p_len, invf, b * p_len + p0, af, (b * pb_len + pb) * kg * NR, kf)
            for k in range(kf if m < NR else 0):
                x0 = x[b, 2 * k, p0 : p0 + m]
                x1 = x[b, 2 * k + 1, p0 : p0 + m]
                ak = a[b, pb, k]
                for j in range(m):
                    s = inv[j]
                    q0 = np.int32(min(max(np.rint(x0[j] * s), lo), hi))
                    q1 = np.int32(min(max(np.rint(x1[j] * s), lo), hi))
                    ak[j] = np.uint32((q0 & m16) | ((q1 & m16) << 16))
            if c > 2 * kf:
                xc = x[b, c - 1, p0 : p0 + m]
                ak = a[b, pb, kf]
                for j in range(m):
                    q = np.int32(min(max(np.rint(xc[j] * inv[j]), lo), hi))
                    ak[j] = np.uint32(q & m16)


#: pixel blocks of NR that share each pass over the weights (:func:`_pointwise`)
PB_GROUP = 8


@njit(**NUMBA_FLAGS_EXACT)
def _pointwise(wq, o_len, a, af, corr, s_pix, w_scale, bias, code, out):
    # a (N, Pp/NR, G, NR) uint32 groups of E = 4 int8 or 2 int16 channels (af: its bytes as the tile's b dtype)
    # acc (MR channels, NR pixels) int32 = (w_q + off) @ q per tile (weights broadcast, activations the vectors);
    # out (N, O, P) float32 = act((acc - corr[n, p]) * (s_pix[n, p] * w_scale[o]) + bias[o]), corr = off * sum_c q
    # NOTE: PB_GROUP pixel blocks run under each MR weight rows before the next rows: the rows (MR x C) stay in L1
    # for the group, and the whole matrix streams once per group instead of once per block (a 512 x 512 layer's
    # 512 KB of int16 weights do not fit Zen 3's L2): -4% (256 x 256) to -9% (512 x 512) per layer, same tiles.
    n, pb_len, kg, _ = a.shape
    p_len = out.shape[2]
    kp = wq.shape[1]
    e = kp // kg
    wf = wq.reshape(-1)
    of = out.reshape(-1)
    for b in range(n):
        sb = s_pix[b]
        cb = corr[b]
        for pg in range(0, pb_len, PB_GROUP):
            for o0 in range(0, o_len, MR):
                for pb in range(pg, min(pg + PB_GROUP, pb_len)):
                    p0 = pb * NR
                    m = min(NR, p_len - p0)
                    _PW(wf, o0 * kp, kp, TAP0, kg, af, ((b * pb_len + pb) * kg) * NR * e, of,
                        (b * o_len + o0) * p_len + p0, p_len, min(MR, o_len - o0), m, w_scale, o0, sb, cb, p0, bias, code)


def pack_pointwise_int8(w_q: np.ndarray, w_scale: np.ndarray, layout: str = LAYOUT):  # (O, C, 1, 1) int8, (O,)
    """``w_q + off`` as ``(Op, Kp)`` rows of the broadcast dtype (O padded to MR, C to E; the padding is
    ``off``, which meets zero activations): int16 rows for vpmaddwd, uint8 ``w_q + 128`` for vpdpbusd."""
    off = _off(layout)
    e, dt, _ = D.layout_types(off)
    o = w_q.shape[0]
    w2 = w_q.reshape(o, -1).astype(np.int16) + off
    wq = np.full((_ceil(o, MR), _ceil(w2.shape[1], e)), off, dt)
    wq[:o, : w2.shape[1]] = w2.astype(dt)
    return (wq, o, _padded(w_scale, wq.shape[0], np.float32), off)


def pointwise_int8(x: np.ndarray, pack, bias, act: str = "none") -> np.ndarray:  # (N, C, H, W) -> (N, O, H, W)
    """1x1 stride-1 conv on signed inputs, one dynamic int8 scale per pixel (:func:`.int8.pointwise_int8`)."""
    wq, o, w_scale, off = pack
    e = 4 if off else 2
    x = np.ascontiguousarray(x, dtype=np.float32)
    n, c, h, w = x.shape
    p_len = h * w
    pp = _ceil(p_len, NR)
    x3 = x.reshape(n, c, p_len)
    s = np.zeros((n, pp), np.float32)
    inv = np.empty((n, p_len), np.float32)
    acc = np.empty(p_len, np.int32)
    _pixel_scales_bits(x3.view(np.int32), s, inv, acc, acc.view(np.float32))
    if e == 4:
        a, sx = np.zeros((n, pp // NR, _ceil(c, e) // e, NR), np.uint32), np.zeros((n, pp), np.int32)
        D.quant_pixels_s8(x3, inv, a, sx)
    else:  # no offset to correct: sx is a dummy the int16 tile never reads
        # NOTE: _quant_pixels2 assigns every element of a but the last block's padding pixels: zeroing only that
        # block saves a memset of the whole copy (~25 us of a 256-channel x 1280-pixel layer)
        a, sx = np.empty((n, pp // NR, _ceil(c, e) // e, NR), np.uint32), np.zeros((n, 1), np.int32)
        a[:, -1] = 0
        _quant_pixels2(x3, inv, a, sx)
    out = np.empty((n, o, h, w), np.float32)
    _pointwise(wq, o, a, a.reshape(-1).view(np.int8 if e == 4 else np.int16), sx * off if off else sx, s, w_scale,
               _padded(bias, wq.shape[0], np.float32), ACT_CODES[act], out.reshape(n, o, p_len))
    return out


# ---- linear / GEMM (dynamic per-line int8 inputs) ----------------------------------------------


def pack_linear_int8(w_q: np.ndarray, w_scale: np.ndarray, layout: str = LAYOUT):  # (O, K) int8, (O,) float32
    """``(O/NR, Kp/E, NR, E)`` int16 pairs (avx2) or int8 quads (avxvnni): :func:`.int8_drivers.pack_linear`."""
    return D.pack_linear(w_q, w_scale, _off(layout), NR)


#: rows of the output per pass over the weights in :func:`_gemm` (a multiple of MR)
ROW_BLOCK = 2 * MR


@njit(**NUMBA_FLAGS_EXACT)
def _gemm(a, m_len, wpk, corr, s_rows, w_scale, bias, code, y):
    # acc (M, O) int32 = a @ w.T - corr ; y = act(acc * (s_rows[m] * w_scale[o]) + bias[o])  (MR rows x NR outputs)
    # NOTE: ROW_BLOCK rows at a time, all outputs: the block's rows (12 x 6625 floats of PP-OCRv2's head, 318 KB) are
    # written front to back while they sit in L2, where column blocks outer wrote 16 floats into every row of a
    # 2-3 MB output per step; the weights (1.3 MB int16) stream M / 12 times instead of once. fc.1 (96 -> 6625,
    # 80-112 rows): -14 to -18%; the LSTM projections (K 96-512, O 192): unchanged.
    mp, kp = a.shape
    o_len = y.shape[1]
    af = a.reshape(-1)
    yf = y.reshape(-1)
    e = 2 if a.itemsize == 2 else 4
    blk = kp * NR
    for r0 in range(0, m_len, ROW_BLOCK):
        for ob in range(-(-o_len // NR)):
            o0 = ob * NR
            for m0 in range(r0, min(r0 + ROW_BLOCK, m_len), MR):
                _LIN(af, m0 * kp, kp, TAP0, kp // e, wpk, ob * blk, yf, m0 * o_len + o0, o_len, min(MR, m_len - m0),
                     min(NR, o_len - o0), s_rows, m0, w_scale, corr, o0, bias, code)


def _linear_q(a, s, t_len, pack, bias, act, m_len):
    wpk, corr, w_scale, o, _, _ = pack
    y = np.empty((m_len, o), np.float32)
    _gemm(a, m_len, wpk, corr, _padded(np.repeat(s, t_len), a.shape[0], np.float32), w_scale,
          _padded(bias, w_scale.shape[0], np.float32), ACT_CODES[act], y)
    return y


def linear_int8(x: np.ndarray, pack, bias, act: str = "none") -> np.ndarray:  # (N, T, I) -> (N, T, O) float32
    """Dynamic per-line int8 linear layer (``pack`` from :func:`pack_linear_int8`)."""
    return D.linear(x, pack, bias, act, MR, _linear_q)


# ---- LSTM ---------------------------------------------------------------------------------------


def pack_lstm_int8(w_ih_q, w_ih_scale, w_hh_q, w_hh_scale, b, layout: str = LAYOUT):
    """Both matrices packed like :func:`pack_linear_int8` (:func:`.int8_drivers.pack_lstm`)."""
    return D.pack_lstm(w_ih_q, w_ih_scale, w_hh_q, w_hh_scale, b, _off(layout), NR)


_lstm_rec = D.make_lstm_rec(D.YMM, MR, NR)


def bilstm_int8(x: np.ndarray, fwd, bwd) -> np.ndarray:  # (N, T, I) float32 -> (N, T, 2H) float32
    """Bidirectional int8 LSTM; ``fwd``/``bwd`` from :func:`pack_lstm_int8`; up to MR = 6 lines share each weight load."""
    return D.bilstm(x, fwd, bwd, MR, NR, _linear_q, _lstm_rec)
