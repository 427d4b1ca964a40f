"""Numba conv2d. groups == 1 on AVX-512: direct convolution over a zero-padded NHWC copy of the
input with the register-tiled FMA micro-kernel (no im2col matrix, bias + activation fused).
Otherwise: im2col packing in Numba, one BLAS SGEMM per group, fused bias + activation.

# direct: out[n, o, y, x] = act(sum_{ky,kx,c} xp[n, y*sh+ky, x*sw+kx, c] * w[o, c, ky, kx] + b[o])
# im2col: w (O, C*kh*kw) @ cols (C*kh*kw, N*Ho*Wo) -> y (O, N*Ho*Wo), scattered to (N, O, Ho, Wo)

NOTE: the direct path replaced im2col + OpenBLAS SGEMM + scatter for english_g2: the NCHW ->
padded NHWC copy is ~1/9 of the im2col matrix, and the 8-pixel x 32-channel tile keeps 16 zmm
accumulators live across all kh*kw*C products (see benchmarks/RESULTS.md for timings).
A 1x1 stride-1 convolution of a single image skips packing on the im2col path.
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS, NUMBA_FLAGS_EXACT
from .activations import ACT_CODES, _act, _bias_act_planes, _bias_act_scatter
from .microkernel import HAS_AVX512, LANES, tile_kernel

MR, NV = 8, 2
NR = NV * LANES
_TF8 = tile_kernel("f32", MR, NV)


class PackedConv:
    """A groups == 1 conv weight repacked once at load as ``(O/NR, kh*kw, C, NR)`` float32 for the direct path."""

    def __init__(self, weight: np.ndarray):  # (O, C, kh, kw) float32
        o, c, kh, kw = weight.shape
        op = -(-o // NR) * NR
        w = np.zeros((op, kh, kw, c), np.float32)
        w[:o] = weight.transpose(0, 2, 3, 1)
        self.packed = np.ascontiguousarray(w.reshape(op // NR, NR, kh * kw, c).transpose(0, 2, 3, 1)).reshape(-1)
        self.shape = weight.shape
        self.weight = weight


def pack_conv(weight: np.ndarray, groups: int = 1):
    """What the conv op keeps: a :class:`PackedConv` when the direct path applies, else ``weight``."""
    return PackedConv(np.ascontiguousarray(weight, dtype=np.float32)) if _direct_applies(weight.shape, groups) else weight


def _direct_applies(shape, groups) -> bool:
    # NOTE: 1x1 convs stay on SGEMM: their NCHW input already is the GEMM operand (no im2col), and
    # OpenBLAS beat the direct path there on PP-OCRv2's pointwise convs (benchmarks/RESULTS.md)
    return groups == 1 and HAS_AVX512 and shape[2] * shape[3] > 1


@njit(**NUMBA_FLAGS_EXACT)
def _copy_nhwc(x, ph, pw, xp):
    # x (N, C, H, W) -> xp[:, ph:ph+H, pw:pw+W, :C] (border stays zero)
    n, c, h, w = x.shape
    for b in range(n):
        for iy in range(h):
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
def _conv_direct(xp, sh, sw, taps, wpk, bias, code, out, ctile):
    n, hp, wp, c = xp.shape
    _, o_len, ho, wo = out.shape
    xf = xp.reshape(-1)
    blk = taps.shape[0] * c * NR
    for ob in range(-(-o_len // NR)):
        for b in range(n):
            for oy in range(ho):
                for x0 in range(0, wo, MR):
                    _TF8(ctile, xf, ((b * hp + oy * sh) * wp + x0 * sw) * c, sw * c, taps, c, wpk, ob * blk)
                    for j in range(min(NR, o_len - ob * NR)):
                        o = ob * NR + j
                        bo = bias[o]  # hoisted: stores to `out` may alias `bias`
                        for i in range(min(MR, wo - x0)):
                            out[b, o, oy, x0 + i] = _act(ctile[i * NR + j] + bo, code)


def _conv2d_direct(x, pk: PackedConv, bias, stride, pad, act):
    n, c, h, w = x.shape
    o, _, kh, kw = pk.shape
    sh, sw = stride
    ph, pw = pad
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    out = np.empty((n, o, ho, wo), np.float32)
    b = bias if bias is not None else np.zeros(o, np.float32)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if c < 8 and kh * kw > 1:
        # NOTE: few input channels (the first conv on a gray image): one tap per k would leave the
        # tile loop mostly overhead, so unfold the window (cheap at C < 8) and run one k = kh*kw*C tap
        cols = np.zeros((n, ho, -(-wo // MR) * MR, kh * kw * c), np.float32)
        _im2col_nhwc(x, kh, kw, sh, sw, ph, pw, cols)
        _conv_direct(cols, 1, 1, np.zeros(1, np.int64), pk.packed, b, ACT_CODES[act], out, np.empty(MR * NR, np.float32))
        return out
    wp = max(w + 2 * pw, (-(-wo // MR) * MR - 1) * sw + kw)
    xp = np.zeros((n, h + 2 * ph, wp, c), np.float32)
    _copy_nhwc(x, ph, pw, xp)
    taps = np.array([(i * wp + j) * c for i in range(kh) for j in range(kw)], np.int64)
    _conv_direct(xp, sh, sw, taps, pk.packed, b, ACT_CODES[act], out, np.empty(MR * NR, np.float32))
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
    """What the FP32 linear op keeps: a :class:`PackedLinear` on AVX-512, else the weight itself."""
    return PackedLinear(weight) if HAS_AVX512 else np.ascontiguousarray(weight, dtype=np.float32)


@njit(**NUMBA_FLAGS)
def _linear_tiles(xf, m_len, k_len, wpk, bias, code, y, ctile):
    # y (M, O) = act(x (Mp, K) @ w.T + bias); 8 rows x 32 outputs per tile, row-major epilogue
    o_len = y.shape[1]
    taps = np.zeros(1, np.int64)
    blk = k_len * NR
    # NOTE: weight blocks outer: each 32-output block (K*32 floats) is read from memory once and
    # stays in L1 while all row blocks use it (rows outer re-streamed PP-OCR's 2.5 MB head per 8 rows)
    for ob in range(-(-o_len // NR)):
        for m0 in range(0, m_len, MR):
            _TF8(ctile, xf, m0 * k_len, k_len, taps, k_len, wpk, ob * blk)
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
