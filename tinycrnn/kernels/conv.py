"""Numba conv2d. groups == 1 on a vector-FMA CPU (AVX-512, or AVX2 + FMA; ``microkernel.HAS_VEC``): stride-1 convs with >= 8 input channels run Winograd
(kernels/winograd.py) when the kernel is 3x3 pad 1 (F(4x4, 3x3)) or 2x2 pad 0 (F(3x3, 2x2)); a
1-channel 3x3 conv runs a row-vectorised loop; other convs run a direct convolution over a
zero-padded NHWC copy of the input with the register-tiled FMA micro-kernel (no im2col matrix,
bias + activation fused). Otherwise: im2col packing in Numba, one BLAS SGEMM per group, fused
bias + activation.

# direct: out[n, o, y, x] = act(sum_{ky,kx,c} xp[n, y*sh+ky, x*sw+kx, c] * w[o, c, ky, kx] + b[o])
# im2col: w (O, C*kh*kw) @ cols (C*kh*kw, N*Ho*Wo) -> y (O, N*Ho*Wo), scattered to (N, O, Ho, Wo)

Layout: activations are (N, C, H, W) arrays everywhere, but the Winograd path returns one whose
memory is NHWC (``out_nhwc.transpose(0, 3, 1, 2)``, see :func:`nhwc_of`). Every consumer sees a
valid NCHW array (NumPy semantics, any kernel that needs NCHW memory makes it contiguous); the
Numba conv, max-pool and mean-height kernels detect NHWC memory and keep it, so english_g2's
trunk after cnn.3 never transposes. A direct conv writes NHWC when its input was NHWC, NCHW
otherwise (so what an INT8 conv receives from the FP32 cnn.0 is unchanged).

NOTE: the direct path replaced im2col + OpenBLAS SGEMM + scatter for english_g2: the NCHW ->
padded NHWC copy is ~1/9 of the im2col matrix, and the 8-pixel x 32-channel tile keeps 16 zmm
accumulators live across all kh*kw*C products (see benchmarks/RESULTS.md for timings). On AVX2 without
AVX-512 the tile is 6 pixels x 32 channels in two 6 x 16 ymm passes (``microkernel.YMM_F32``).
A 1x1 stride-1 convolution of a single image skips packing on the im2col path.
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS, NUMBA_FLAGS_EXACT
from .activations import ACT_CODES, _act, _bias_act_planes, _bias_act_scatter
from .microkernel import F32_MR, HAS_VEC, LANES, TAP0, fma32, prefetch, tile_kernel
from .transpose_ir import transpose8x8
from .winograd import VARIANTS, PackedWinograd, winograd_applies, winograd_conv, winograd_pays

MR, NV = F32_MR, 2  # 8 x 32 (AVX-512, ARM, portable), 6 x 32 (AVX2: microkernel.YMM_F32)
NR = NV * LANES
_TF8 = tile_kernel("f32", MR, NV)


#: the smallest input channel count that takes the Winograd path (fewer: the transforms cost more
#: than the multiplies they save; english_g2's cnn.0 has 1)
WINOGRAD_MIN_C = 8


class PackedConv:
    """A groups == 1 conv weight, packed once at load: ``(O/NR, kh*kw, C, NR)`` float32 for the direct
    path and, for a 3x3 or 2x2 weight with >= WINOGRAD_MIN_C inputs, also U = G w G^T
    (:class:`PackedWinograd`), used when the call's stride and padding fit the Winograd variant and
    the image has enough tiles to pay for streaming U (``winograd.winograd_pays``)."""

    def __init__(self, weight: np.ndarray):  # (O, C, kh, kw) float32
        o, c, kh, kw = weight.shape
        op = -(-o // NR) * NR
        w = np.zeros((op, kh, kw, c), np.float32)
        w[:o] = weight.transpose(0, 2, 3, 1)
        self.packed = np.ascontiguousarray(w.reshape(op // NR, NR, kh * kw, c).transpose(0, 2, 3, 1)).reshape(-1)
        self.wino = PackedWinograd(weight) if (kh, kw) in VARIANTS and c >= WINOGRAD_MIN_C else None
        self.shape = weight.shape
        self.weight = weight


def pack_conv(weight: np.ndarray, groups: int = 1):
    """What the conv op keeps: a :class:`PackedConv` when the direct path applies, else ``weight``."""
    return PackedConv(np.ascontiguousarray(weight, dtype=np.float32)) if _direct_applies(weight.shape, groups) else weight


def nhwc_of(x: np.ndarray):
    """The (N, H, W, C) C-contiguous array behind an (N, C, H, W) ``x`` whose memory is NHWC, else None."""
    xt = x.transpose(0, 2, 3, 1)
    return xt if x.dtype == np.float32 and xt.flags.c_contiguous and not x.flags.c_contiguous else None


def _direct_applies(shape, groups) -> bool:
    # NOTE: 1x1 convs stay on SGEMM: their NCHW input already is the GEMM operand (no im2col), and
    # OpenBLAS beat the direct path there on PP-OCRv2's pointwise convs (benchmarks/RESULTS.md)
    return groups == 1 and HAS_VEC and shape[2] * shape[3] > 1


@njit(**NUMBA_FLAGS_EXACT)
def _copy_nhwc(x, ph, pw, xp):
    # x (N, C, H, W) -> xp[:, ph:ph+H, pw:pw+W, :C] (border stays zero)
    # NOTE: from 8 channels, 8 x 8 blocks transposed in registers (transpose_ir: why); the C % 8 last channels and
    # W % 8 last pixels one element at a time. 3 channels (an image): one channel's row at a time.
    n, c, h, w = x.shape
    _, hp, wp, cp = xp.shape
    xf = x.reshape(-1)
    of = xp.reshape(-1)
    c8, w8 = c - c % 8, w - w % 8
    for b in range(n):
        for iy in range(h):
            if c >= 8:
                row = ((b * hp + iy + ph) * wp + pw) * cp
                for c0 in range(0, c8, 8):
                    src = ((b * c + c0) * h + iy) * w
                    for ix0 in range(0, w8, 8):
                        transpose8x8(xf, src + ix0, h * w, of, row + ix0 * cp + c0, cp)
                for ci in range(c8, c):
                    for ix in range(w8):
                        xp[b, iy + ph, ix + pw, ci] = x[b, ci, iy, ix]
                for ix in range(w8, w):
                    for ci in range(c):
                        xp[b, iy + ph, ix + pw, ci] = x[b, ci, iy, ix]
            else:
                for ci in range(c):
                    for ix in range(w):
                        xp[b, iy + ph, ix + pw, ci] = x[b, ci, iy, ix]


@njit(**NUMBA_FLAGS_EXACT)
def _im2col_nhwc(x, kh, kw, sh, sw, ph, pw, cols):
    # x (N, C, H, W) -> cols (N, Ho, WoP, kh*kw*C), k ordered (ky, kx, c) like PackedConv; zero outside
    n, c, h, w = x.shape
    _, ho, _, _ = cols.shape
    wo = (w + 2 * pw - kw) // sw + 1
    for b in range(n):
        for oy in range(ho):
            for i in range(kh):
                iy = oy * sh - ph + i
                if iy < 0 or iy >= h:
                    continue
                for j in range(kw):
                    for ci in range(c):
                        k = (i * kw + j) * c + ci
                        for ox in range(wo):
                            ix = ox * sw - pw + j
                            if 0 <= ix < w:
                                cols[b, oy, ox, k] = x[b, ci, iy, ix]


@njit(**NUMBA_FLAGS)
def _conv_direct(xp, sh, sw, taps, wpk, bias, code, nhwc, out, ctile):
    # out (N, O, Ho, Wo), or (N, Ho, Wo, O) when nhwc
    n, hp, wp, c = xp.shape
    if nhwc:
        _, ho, wo, o_len = out.shape
    else:
        _, o_len, ho, wo = out.shape
    xf = xp.reshape(-1)
    blk = taps.shape[0] * c * NR
    for ob in range(-(-o_len // NR)):
        o0 = ob * NR
        for b in range(n):
            for oy in range(ho):
                for x0 in range(0, wo, MR):
                    _TF8(ctile, xf, ((b * hp + oy * sh) * wp + x0 * sw) * c, sw * c, taps, c, wpk, ob * blk)
                    if nhwc:
                        for i in range(min(MR, wo - x0)):
                            for j in range(min(NR, o_len - o0)):
                                out[b, oy, x0 + i, o0 + j] = _act(ctile[i * NR + j] + bias[o0 + j], code)
                        continue
                    for j in range(min(NR, o_len - o0)):
                        o = o0 + j
                        bo = bias[o]  # hoisted: stores to `out` may alias `bias`
                        for i in range(min(MR, wo - x0)):
                            out[b, o, oy, x0 + i] = _act(ctile[i * NR + j] + bo, code)


@njit(**NUMBA_FLAGS)
def _conv3x3_c1(x, w9, bias, code, out, xr):
    # x (N, 1, H, W), 3x3, stride 1, pad 1 -> out (N, O, H, W); w9 (O, 9); xr (3, W + 2) scratch rows
    n, _, h, w = x.shape
    o_len = out.shape[1]
    zero = np.float32(0.0)
    for b in range(n):
        for oy in range(h):
            for i in range(3):
                iy = oy - 1 + i
                for ix in range(w + 2):
                    xr[i, ix] = zero
                if 0 <= iy < h:
                    for ix in range(w):
                        xr[i, ix + 1] = x[b, 0, iy, ix]
            r0, r1, r2 = xr[0], xr[1], xr[2]
            for o in range(o_len):
                k0, k1, k2, k3, k4, k5, k6, k7, k8 = w9[o, 0], w9[o, 1], w9[o, 2], w9[o, 3], w9[o, 4], w9[o, 5], w9[o, 6], w9[o, 7], w9[o, 8]
                bo = bias[o]
                orow = out[b, o, oy]
                for ox in range(w):
                    # the same fma chain, in the same (ky, kx) order, as the tile: bit-identical results
                    a = fma32(r0[ox], k0, zero)
                    a = fma32(r0[ox + 1], k1, a)
                    a = fma32(r0[ox + 2], k2, a)
                    a = fma32(r1[ox], k3, a)
                    a = fma32(r1[ox + 1], k4, a)
                    a = fma32(r1[ox + 2], k5, a)
                    a = fma32(r2[ox], k6, a)
                    a = fma32(r2[ox + 1], k7, a)
                    orow[ox] = fma32(r2[ox + 2], k8, a)
                # NOTE: bias + act in a second pass: in the same expression, fastmath lets LLVM's
                # DAG combiner move the bias add into the fma chain, which changes the rounding
                for ox in range(w):
                    orow[ox] = _act(orow[ox] + bo, code)


def _conv2d_direct(x, pk: PackedConv, bias, stride, pad, act):
    n, c, h, w = x.shape
    o, _, kh, kw = pk.shape
    sh, sw = stride
    ph, pw = pad
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    b = bias if bias is not None else np.zeros(o, np.float32)
    code = ACT_CODES[act]
    xh = nhwc_of(x)
    m = pk.wino.m if pk.wino is not None else 1
    if (pk.wino is not None and winograd_applies(pk.shape, stride, pad)
            and winograd_pays(pk.wino, n * ho * wo, n * -(-ho // m) * -(-wo // m))):
        if xh is None:
            xh = np.empty((n, h, w, c), np.float32)
            _copy_nhwc(np.ascontiguousarray(x, dtype=np.float32), 0, 0, xh)
        return winograd_conv(xh, pk.wino, b, code).transpose(0, 3, 1, 2)
    ctile = np.empty(MR * NR, np.float32)
    if xh is not None:  # NHWC in, NHWC out
        wp = max(w + 2 * pw, (-(-wo // MR) * MR - 1) * sw + kw)
        xp = np.zeros((n, h + 2 * ph, wp, c), np.float32)
        xp[:, ph : ph + h, pw : pw + w] = xh
        taps = np.array([(i * wp + j) * c for i in range(kh) for j in range(kw)], np.int64)
        out = np.empty((n, ho, wo, o), np.float32)
        _conv_direct(xp, sh, sw, taps, pk.packed, b, code, True, out, ctile)
        return out.transpose(0, 3, 1, 2)
    out = np.empty((n, o, ho, wo), np.float32)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if c == 1 and (kh, kw) == (3, 3) and stride == (1, 1) and pad == (1, 1):
        # NOTE: a gray image's first conv (english_g2 cnn.0): 9 products per output, so the tile's
        # per-call cost dominated (0.56 ms at 64x256); a loop vectorised along the row is ~4x faster
        _conv3x3_c1(x, pk.weight.reshape(o, 9), b, code, out, np.empty((3, w + 2), np.float32))
        return out
    if c < 3 and kh * kw > 1:
        # NOTE: one or two input channels (the first conv on a gray image): one tap per k would leave the
        # tile loop mostly overhead, so unfold the window and run one k = kh*kw*C tap. From 3 channels
        # (BGR input) the taps over the padded copy are faster: the unfolded matrix is 9x the image
        # (3x3 C=3 on Zen 3, one thread: 36 vs 47 ms for PP-OCRv4's detector stem at 736x1120, 15 vs 23 ms
        # for a 32x320 batch of 8 into 32 channels; benchmarks/RESULTS.md "Graph models")
        cols = np.zeros((n, ho, -(-wo // MR) * MR, kh * kw * c), np.float32)
        _im2col_nhwc(x, kh, kw, sh, sw, ph, pw, cols)
        _conv_direct(cols, 1, 1, TAP0, pk.packed, b, code, False, out, ctile)
        return out
    wp = max(w + 2 * pw, (-(-wo // MR) * MR - 1) * sw + kw)
    xp = np.zeros((n, h + 2 * ph, wp, c), np.float32)
    _copy_nhwc(x, ph, pw, xp)
    taps = np.array([(i * wp + j) * c for i in range(kh) for j in range(kw)], np.int64)
    _conv_direct(xp, sh, sw, taps, pk.packed, b, code, False, out, ctile)
    return out


@njit(**NUMBA_FLAGS_EXACT)
def _im2col(x, c0, c_len, kh, kw, sh, sw, ph, pw, ho, wo, cols):
    # x (N, C, H, W) float32; channels [c0, c0 + c_len) -> cols (c_len*kh*kw, N*ho*wo)
    n, _, h, w = x.shape
    p_len = ho * wo
    for ci in range(c_len):
        for i in range(kh):
            for j in range(kw):
                row = (ci * kh + i) * kw + j
                # output columns whose input column lies inside the image
                lo = 0
                while lo < wo and lo * sw - pw + j < 0:
                    lo += 1
                hi = wo
                while hi > lo and (hi - 1) * sw - pw + j >= w:
                    hi -= 1
                for b in range(n):
                    for oy in range(ho):
                        dst = b * p_len + oy * wo
                        iy = oy * sh - ph + i
                        if iy < 0 or iy >= h:
                            for ox in range(wo):
                                cols[row, dst + ox] = 0.0
                            continue
                        for ox in range(lo):
                            cols[row, dst + ox] = 0.0
                        for ox in range(lo, hi):
                            cols[row, dst + ox] = x[b, c0 + ci, iy, ox * sw - pw + j]
                        for ox in range(hi, wo):
                            cols[row, dst + ox] = 0.0


def conv2d(
    x: np.ndarray,  # (N, C, H, W) float32
    weight: np.ndarray,  # (O, C/groups, kh, kw) float32
    bias,  # (O,) float32 or None
    stride=(1, 1),
    pad=(0, 0),
    groups: int = 1,
    act: str = "none",
) -> np.ndarray:  # (N, O, Ho, Wo) float32
    """Convolution (PyTorch semantics) + bias + activation; see the module docstring for the design.

    ``weight`` may be a :class:`PackedConv` (from :func:`pack_conv`, done once at load)."""
    if isinstance(weight, PackedConv):
        return _conv2d_direct(x, weight, bias, stride, pad, act)
    if _direct_applies(weight.shape, groups):
        return _conv2d_direct(x, PackedConv(np.ascontiguousarray(weight, dtype=np.float32)), bias, stride, pad, act)
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    if groups > 1 and groups == c == o:  # depthwise: a direct loop beats one tiny GEMM per channel
        from .depthwise import depthwise_conv2d

        return depthwise_conv2d(x, weight, bias, stride, pad, act)
    sh, sw = stride
    ph, pw = pad
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    p_len = ho * wo
    og = o // groups
    x = np.ascontiguousarray(x, dtype=np.float32)
    wmat = weight.reshape(o, cg * kh * kw)
    b = bias if bias is not None else np.zeros(o, np.float32)
    out = np.empty((n, o, ho, wo), np.float32)
    if groups == 1 and kh == kw == 1 and sh == sw == 1 and ph == pw == 0:
        # pointwise: each line's (C, H*W) NCHW plane already is the GEMM operand; one SGEMM per line
        # straight into its output plane, then bias + activation in place (no im2col copy, no scatter)
        for bi in range(n):
            np.matmul(wmat, x[bi].reshape(c, p_len), out=out[bi].reshape(o, p_len))
        _bias_act_planes(out.reshape(n, o, p_len), b, ACT_CODES[act])
        return out
    cols = None
    for g in range(groups):
        if n == 1 and kh == kw == 1 and sh == sw == 1 and ph == pw == 0:
            cols_g = x[0, g * cg : (g + 1) * cg].reshape(cg, p_len)
        else:
            if cols is None:
                cols = np.empty((cg * kh * kw, n * p_len), np.float32)
            _im2col(x, g * cg, cg, kh, kw, sh, sw, ph, pw, ho, wo, cols)
            cols_g = cols
        y = wmat[g * og : (g + 1) * og] @ cols_g
        _bias_act_scatter(y, b[g * og : (g + 1) * og], ACT_CODES[act], out[:, g * og : (g + 1) * og].reshape(n, og, p_len))
    return out


# ---- linear layers on the same tile ----------------------------------------------------------


class PackedLinear:
    """A linear weight (O, K) repacked once at load as ``(O/NR, K, NR)`` float32 for :func:`linear_direct`."""

    def __init__(self, weight: np.ndarray):
        self.weight = np.ascontiguousarray(weight, dtype=np.float32)
        o, k = weight.shape
        op = -(-o // NR) * NR
        w = np.zeros((op, k), np.float32)
        w[:o] = self.weight
        self.packed = np.ascontiguousarray(w.reshape(op // NR, NR, k).transpose(0, 2, 1)).reshape(-1)
        self.shape = (o, k)


def pack_linear(weight: np.ndarray):
    """What the FP32 linear op keeps: a :class:`PackedLinear` on a vector-FMA CPU, else the weight itself."""
    return PackedLinear(weight) if HAS_VEC else np.ascontiguousarray(weight, dtype=np.float32)


@njit(**NUMBA_FLAGS)
def _linear_tiles(xf, m_len, k_len, wpk, bias, code, y, ctile):
    # y (M, O) = act(x (Mp, K) @ w.T + bias); 8 rows x 32 outputs per tile, row-major epilogue
    o_len = y.shape[1]
    taps = TAP0
    blk = k_len * NR
    nrb = -(-m_len // MR)
    lines = blk // 16  # 64-byte lines per weight block
    # NOTE: weight blocks outer: each 32-output block (K*32 floats) is read from memory once and
    # stays in L1 while all row blocks use it (rows outer re-streamed PP-OCR's 2.5 MB head per 8 rows);
    # the next block is prefetched, spread over the row blocks (english_g2's LSTM input projections
    # and linears: -2-4% CPU time, same-process A/B)
    for ob in range(-(-o_len // NR)):
        for m0 in range(0, m_len, MR):
            _TF8(ctile, xf, m0 * k_len, k_len, taps, k_len, wpk, ob * blk)
            rb = m0 // MR
            for li in range(rb * lines // nrb, (rb + 1) * lines // nrb):
                prefetch(wpk, (ob + 1) * blk + li * 16)
            o0 = ob * NR
            for i in range(min(MR, m_len - m0)):
                for j in range(min(NR, o_len - o0)):
                    y[m0 + i, o0 + j] = _act(ctile[i * NR + j] + bias[o0 + j], code)


def linear_direct(x: np.ndarray, pk: PackedLinear, bias, act: str = "none") -> np.ndarray:  # (..., K) -> (..., O)
    """``act(x @ W.T + b)`` on the FMA tile: PP-OCR's 96 -> 6625 head ran at ~70 GFLOP/s in OpenBLAS
    (K = 96 is too short for its blocking); the tile keeps each 8 x 32 output block in registers and
    writes it once, bias and activation fused, while it is in cache."""
    o, k = pk.shape
    xm = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, k)
    m = xm.shape[0]
    mp = -(-m // MR) * MR
    if mp != m:  # the tile reads MR rows: pad the last block with zeros
        xp = np.zeros((mp, k), np.float32)
        xp[:m] = xm
        xm = xp
    y = np.empty((m, o), np.float32)
    b = bias if bias is not None else np.zeros(o, np.float32)
    _linear_tiles(xm.reshape(-1), m, k, pk.packed, b, ACT_CODES[act], y, np.empty(MR * NR, np.float32))
    return y.reshape(x.shape[:-1] + (o,))
