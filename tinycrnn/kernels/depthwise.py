"""Numba depthwise convolution (groups == C == O): a direct sliding window per channel.

# out[b, c, oy, ox] = act(bias[c] + sum_{i,j} w[c, i, j] * x[b, c, oy*sh - ph + i, ox*sw - pw + j])

The per-group GEMM of :mod:`tinycrnn.kernels.conv` does one tiny matrix product per channel
for these layers; a direct loop over the window is several times faster. The twin is
``ref.conv2d_ref`` with ``groups == C``.

Two paths. 3x3 and 5x5 windows with column stride 1 and row stride 1 or 2 (all of PP-OCRv2's
13 depthwise layers) take a row-group kernel emitted as LLVM IR (:func:`_make_rows`, 16-lane vector IR on AVX-512 and aarch64, 8-lane on AVX2 + FMA: :data:`DW_LANES`):
it reads x in place (no zero-padded copy), computes up to 4 output rows x 16 (8) columns per step
so each input row vector loaded serves every output row it touches (a 5x5 window on a 4-row map
loads each vector once for 3-4 outputs), keeps the window's kh*kw weights in registers, and
fuses bias + activation into the one store. Column padding is masked loads on the first and
last column blocks; row padding is skipping rows. Everything else (other windows, column
stride 2, CPUs without vector FMA) takes the plain loop ``_depthwise_loop`` over a zero-bordered copy;
column stride 2 (PP-OCRv4's detector) splits that copy into even and odd columns (``_depthwise_loop_s2``).
"""
import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..config import NUMBA_FLAGS
from .activations import ACT_CODES, _act
from . import ir_build
from .microkernel import HAS_VEC, LANES, YMM_F32, ir_masked_f32

#: output rows per step of the row-group kernel (the remainder takes 2- and 1-row steps)
ROWS = 4


def ir_activation(builder, code, ys):
    """LLVM IR of ``activations._act`` on float vectors ``ys`` (all of one width) for the i64 ``code``; returns the results.

    NOTE: HardSwish (every PP-OCR conv) on its own branch: a select chain over all four activations
    costs ~10% of a 5x5 depthwise layer. Shared by the AVX-512 epilogues here and in :mod:`.int8`."""
    from llvmlite import ir

    i64 = ir.IntType(64)
    vec = ys[0].type

    def splat(v):
        return ir.Constant(vec, [v] * vec.count)

    k0, k1, k3, k6, khalf, k6i = (splat(v) for v in (0.0, 1.0, 3.0, 6.0, 0.5, 1.0 / 6.0))

    def clamp(t, lo, hi):
        t = builder.select(builder.fcmp_ordered(">", t, lo), t, lo)
        return builder.select(builder.fcmp_ordered("<", t, hi), t, hi)

    is_relu, is_hs, is_hsig = (builder.icmp_signed("==", code, ir.Constant(i64, k)) for k in (1, 2, 3))
    out = [cgutils.alloca_once(builder, vec) for _ in ys]
    with builder.if_else(is_hs, likely=True) as (hs_path, other):
        with hs_path:
            for y, o in zip(ys, out):
                builder.store(builder.fmul(builder.fmul(y, clamp(builder.fadd(y, k3), k0, k6)), k6i), o)
        with other:
            for y, o in zip(ys, out):
                relu = builder.select(builder.fcmp_ordered(">", y, k0), y, k0)
                hsig = clamp(builder.fadd(builder.fmul(y, k6i), khalf), k0, k1)
                builder.store(builder.select(is_relu, relu, builder.select(is_hsig, hsig, y)), o)
    return [builder.load(o) for o in out]


def _make_rows(kh: int, kw: int, sh: int, lanes: int):
    """The row-group kernel for a kh x kw window and row stride sh (column stride 1) on ``lanes``-wide float
    vectors (:data:`DW_LANES`), as an intrinsic.

    Call inside ``@njit`` code (1-D float32 arrays, offsets in elements)::

        rows(out, o_off, x, x_off, h, wd, wo, w, w_off, bias, code, oy0, nr, ph, pw, t0, tm, nbt)

    writes ``nr`` (1..4; 3 is done as 2) output rows ``oy0..`` of one channel plane, all ``nbt``
    ``lanes``-column blocks: ``out[o_off + r*wo + ox]`` for the plane ``x[x_off + iy*wd + ix]`` (h rows of wd).
    Blocks ``[t0, tm)`` read only in-range columns (plain loads); the others use masked loads and
    stores. Returns the number of rows written (4, 2 or 1).
    """
    from llvmlite import ir

    @intrinsic
    def rows(typingctx, out, o_off, x, x_off, h, wd, wo, w, w_off, bias, code, oy0, nr, ph, pw, t0, tm, nbt):
        sig = types.int64(out, o_off, x, x_off, h, wd, wo, w, w_off, bias, code, oy0, nr, ph, pw, t0, tm, nbt)

        def codegen(context, builder, signature, args):
            (out_v, o_off_v, x_v, x_off_v, h_v, wd_v, wo_v, w_v, w_off_v, bias_v, code_v, oy0_v, nr_v, ph_v, pw_v,
             t0_v, tm_v, nbt_v) = ir_build.int64_args(context, builder, args, signature.args)
            sa = signature.args
            i64, i32, f32 = ir.IntType(64), ir.IntType(32), ir.FloatType()
            vec, ivec = ir.VectorType(f32, lanes), ir.VectorType(i32, lanes)
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]), f"llvm.fma.v{lanes}f32")
            mload, mstore = ir_masked_f32(builder, lanes)
            op, xp, wp = (ir_build.array_ptr(context, builder, sa[k], v) for k, v in ((0, out_v), (2, x_v), (7, w_v)))
            zero, izero = ir.Constant(vec, None), ir.Constant(ivec, None)

            def const(v):
                return ir.Constant(i64, v)

            def splat(s, ty=vec):
                return ir_build.splat(builder, s, ty)

            bvec = splat(context.cast(builder, bias_v, sa[9], types.float32))
            w0 = builder.gep(wp, [w_off_v])
            wv = [[splat(builder.load(builder.gep(w0, [const(i * kw + j)]))) for j in range(kw)] for i in range(kh)]
            iy0 = builder.sub(builder.mul(oy0_v, const(sh)), ph_v)
            xb = builder.gep(xp, [x_off_v])
            obase = builder.gep(op, [o_off_v])
            iota = ir.Constant(ivec, list(range(lanes)))
            wd32, wo32 = splat(builder.trunc(wd_v, i32), ivec), splat(builder.trunc(wo_v, i32), ivec)

            def group(r):  # r output rows, every column block
                nq = (r - 1) * sh + kh
                pairs = [[(k, q - k * sh) for k in range(r) if 0 <= q - k * sh < kh] for q in range(nq)]
                valid, rowp = [], []
                for q in range(nq):
                    iy = builder.add(iy0, const(q))
                    valid.append(builder.and_(builder.icmp_signed(">=", iy, const(0)), builder.icmp_signed("<", iy, h_v)))
                    rowp.append(builder.gep(xb, [builder.sub(builder.mul(iy, wd_v), pw_v)]))

                def blocks(lo, hi, masked):
                    with cgutils.for_range_slice(builder, lo, hi, const(1), inc=True) as (t, _):
                        if masked:  # t counts the edge blocks [0, t0) then [tm, nbt): one copy of this code
                            t = builder.select(builder.icmp_signed("<", t, t0_v), t, builder.add(t, builder.sub(tm_v, t0_v)))
                        ox = builder.mul(t, const(lanes))
                        if masked:
                            # NOTE: a last block past wo moves left to end at wo (when wo >= 16): it recomputes a few
                            # columns of the block before, bit for bit the same values, and stores without masks
                            past = builder.icmp_signed(">", builder.add(ox, const(lanes)), wo_v)
                            fits = builder.icmp_signed(">=", wo_v, const(lanes))
                            ox = builder.select(builder.and_(past, fits), builder.sub(wo_v, const(lanes)), ox)
                            c0 = splat(builder.trunc(builder.sub(ox, pw_v), i32), ivec)
                            masks = []
                            for j in range(kw):
                                col = builder.add(builder.add(iota, c0), splat(ir.Constant(i32, j), ivec))
                                masks.append(builder.and_(builder.icmp_signed(">=", col, izero), builder.icmp_signed("<", col, wd32)))
                            smask = builder.icmp_signed("<", builder.add(iota, splat(builder.trunc(ox, i32), ivec)), wo32)
                        accs = [cgutils.alloca_once_value(builder, bvec) for _ in range(r)]
                        for q in range(nq):
                            with builder.if_then(valid[q], likely=True):
                                rp = builder.gep(rowp[q], [ox])
                                for j in range(kw):
                                    ptr = builder.gep(rp, [const(j)])
                                    if masked:
                                        xv = mload(ptr, masks[j], zero)
                                    else:
                                        xv = builder.load(builder.bitcast(ptr, vec.as_pointer()), align=4)
                                    for k, i in pairs[q]:
                                        builder.store(builder.call(fma, [wv[i][j], xv, builder.load(accs[k])]), accs[k])
                        ys = ir_activation(builder, code_v, [builder.load(a) for a in accs])

                        def plain_stores():
                            for k, y in enumerate(ys):
                                dst = builder.gep(obase, [builder.add(builder.mul(wo_v, const(k)), ox)])
                                builder.store(y, builder.bitcast(dst, vec.as_pointer()), align=4)

                        if masked:  # NOTE: a masked store only where the block ends past wo (slow on AMD cores)
                            full = builder.icmp_signed("<=", builder.add(ox, const(lanes)), wo_v)
                            with builder.if_else(full, likely=True) as (whole, part):
                                with whole:
                                    plain_stores()
                                with part:
                                    for k, y in enumerate(ys):
                                        mstore(y, builder.gep(obase, [builder.add(builder.mul(wo_v, const(k)), ox)]), smask)
                        else:
                            plain_stores()

                blocks(t0_v, tm_v, False)
                # NOTE: both edges in one masked loop, not one loop each: a third less IR, and this
                # function's LLVM time (~2 s of PP-OCRv2's cold start) scales with it
                blocks(const(0), builder.add(t0_v, builder.sub(nbt_v, tm_v)), True)

            res = cgutils.alloca_once_value(builder, const(1))
            with builder.if_else(builder.icmp_signed(">=", nr_v, const(4))) as (four, fewer):
                with four:
                    group(4)
                    builder.store(const(4), res)
                with fewer:
                    with builder.if_else(builder.icmp_signed(">=", nr_v, const(2))) as (two, one):
                        with two:
                            group(2)
                            builder.store(const(2), res)
                        with one:
                            group(1)
            return builder.load(res)

        return sig, codegen

    return rows


#: Vector width of the row-group kernel: 16 floats (one zmm; four NEON registers) on AVX-512 and aarch64; 8 (one ymm)
#: on AVX2, whose 16 registers cannot hold a 3x3 window's 9 weight vectors and 4 rows' accumulators at 16 lanes (2 ymm
#: each): LLVM spilled them to the stack inside the block loop.
DW_LANES = 8 if YMM_F32 else LANES
_R3S1, _R3S2, _R5S1, _R5S2 = (_make_rows(k, k, s, DW_LANES) for k in (3, 5) for s in (1, 2))


@njit(**NUMBA_FLAGS)
def _depthwise_rows(x, w, bias, kh, sh, ph, pw, code, out):
    # x (N, C, H, W); w (C*kh*kw,) flat; out (N, C, Ho, Wo), column stride 1, (kh, sh) in {3, 5} x {1, 2}
    n, c, h, wd = x.shape
    _, _, ho, wo = out.shape
    kw = kh
    xf = x.reshape(n * c * h * wd)
    of = out.reshape(n * c * ho * wo)
    L = DW_LANES
    nbt = (wo + L - 1) // L
    # blocks [t0, tm) read input columns [L*t - pw, L*t - pw + L - 1 + kw - 1] inside [0, wd) and store L columns
    t0 = (pw + L - 1) // L
    t1 = (wd - kw + pw - L) // L + 1 if wd - kw + pw - L >= 0 else 0
    t1 = min(t1, wo // L)
    tm = max(t0, t1)
    if t0 > nbt:
        t0 = tm = nbt
    for b in range(n):
        for ci in range(c):
            bc = bias[ci]
            xo = (b * c + ci) * h * wd
            w_off = ci * kh * kw
            oy = 0
            while oy < ho:
                oo = ((b * c + ci) * ho + oy) * wo
                nr = min(ROWS, ho - oy)
                if kh == 3 and sh == 1:
                    oy += _R3S1(of, oo, xf, xo, h, wd, wo, w, w_off, bc, code, oy, nr, ph, pw, t0, tm, nbt)
                elif kh == 3:
                    oy += _R3S2(of, oo, xf, xo, h, wd, wo, w, w_off, bc, code, oy, nr, ph, pw, t0, tm, nbt)
                elif sh == 1:
                    oy += _R5S1(of, oo, xf, xo, h, wd, wo, w, w_off, bc, code, oy, nr, ph, pw, t0, tm, nbt)
                else:
                    oy += _R5S2(of, oo, xf, xo, h, wd, wo, w, w_off, bc, code, oy, nr, ph, pw, t0, tm, nbt)


@njit(**NUMBA_FLAGS)
def _depthwise_loop(x, w, bias, sh, sw, ph, pw, code, xp, acc, out):
    # x (N, C, H, W) float32; w (C, kh, kw) float32; bias (C,) float32; out (N, C, Ho, Wo) float32.
    # Scratch: xp (H + 2ph, W + 2pw) float32 with a zero border, acc (Wo,) float32.
    # Each channel is copied into the zero-bordered plane so the tap loops need no bounds checks
    # (and vectorise); one output row is accumulated in `acc`, tap by tap.
    n, c, h, wd = x.shape
    _, kh, kw = w.shape
    _, _, ho, wo = out.shape
    for b in range(n):
        for ci in range(c):
            for iy in range(h):
                for ix in range(wd):
                    xp[iy + ph, ix + pw] = x[b, ci, iy, ix]
            bc = bias[ci]
            for oy in range(ho):
                for ox in range(wo):
                    acc[ox] = bc
                for i in range(kh):
                    if oy * sh + i < ph or oy * sh + i >= h + ph:
                        continue  # a zero padding row: nothing to add (most rows of the 2- and 4-row maps)
                    xr = xp[oy * sh + i]
                    if sw == 1 and kw == 5:  # one pass per kernel row: acc is loaded/stored once, not kw times
                        w0, w1, w2, w3, w4 = w[ci, i, 0], w[ci, i, 1], w[ci, i, 2], w[ci, i, 3], w[ci, i, 4]
                        for ox in range(wo):
                            acc[ox] += w0 * xr[ox] + w1 * xr[ox + 1] + w2 * xr[ox + 2] + w3 * xr[ox + 3] + w4 * xr[ox + 4]
                    elif sw == 1 and kw == 3:
                        w0, w1, w2 = w[ci, i, 0], w[ci, i, 1], w[ci, i, 2]
                        for ox in range(wo):
                            acc[ox] += w0 * xr[ox] + w1 * xr[ox + 1] + w2 * xr[ox + 2]
                    else:
                        for j in range(kw):
                            wv = w[ci, i, j]
                            if sw == 1:
                                xs = xr[j : j + wo]
                                for ox in range(wo):
                                    acc[ox] += wv * xs[ox]
                            else:
                                for ox in range(wo):
                                    acc[ox] += wv * xr[ox * sw + j]
                for ox in range(wo):
                    out[b, ci, oy, ox] = _act(acc[ox], code)


@njit(**NUMBA_FLAGS)
def _depthwise_loop_s2(x, w, bias, sh, ph, pw, code, xq, acc, out):
    # column stride 2: x's zero-bordered plane xp is stored as its even and odd columns,
    # xq[p, r, k] = xp[r, 2k + p], so tap j reads xq[j % 2, row, ox + j // 2]: unit stride, vectorised
    # (the strided loop above gathers xr[2*ox + j]). xq's border stays zero across channels.
    n, c, h, wd = x.shape
    _, kh, kw = w.shape
    _, _, ho, wo = out.shape
    for b in range(n):
        for ci in range(c):
            for iy in range(h):
                for ix in range(wd):
                    col = ix + pw
                    xq[col % 2, iy + ph, col // 2] = x[b, ci, iy, ix]
            bc = bias[ci]
            for oy in range(ho):
                for ox in range(wo):
                    acc[ox] = bc
                for i in range(kh):
                    r = oy * sh + i
                    if r < ph or r >= h + ph:
                        continue
                    for j in range(kw):
                        wv = w[ci, i, j]
                        xs = xq[j % 2, r, j // 2 : j // 2 + wo]
                        for ox in range(wo):
                            acc[ox] += wv * xs[ox]
                for ox in range(wo):
                    out[b, ci, oy, ox] = _act(acc[ox], code)


def depthwise_conv2d(
    x: np.ndarray,  # (N, C, H, W) float32
    weight: np.ndarray,  # (C, 1, kh, kw) float32
    bias,  # (C,) float32 or None
    stride=(1, 1),
    pad=(0, 0),
    act: str = "none",
    fast: bool = True,
) -> np.ndarray:  # (N, C, Ho, Wo) float32
    """Depthwise convolution (PyTorch ``Conv2d(groups=C)`` semantics) + bias + activation.

    ``fast=False`` forces the plain loop (what CPUs without vector FMA run; tests compare both)."""
    n, c, h, w = x.shape
    _, _, kh, kw = weight.shape
    sh, sw = stride
    ph, pw = pad
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    b = bias if bias is not None else np.zeros(c, np.float32)
    out = np.empty((n, c, ho, wo), np.float32)
    if fast and HAS_VEC and sw == 1 and kh == kw and kh in (3, 5) and sh in (1, 2) and pw <= kw // 2 and ph <= kh // 2:
        _depthwise_rows(np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(weight, dtype=np.float32).reshape(-1),
                        np.ascontiguousarray(b, dtype=np.float32), kh, sh, ph, pw, ACT_CODES[act], out)
        return out
    if sw == 2:
        _depthwise_loop_s2(np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(weight.reshape(c, kh, kw)),
                           np.ascontiguousarray(b, dtype=np.float32), sh, ph, pw, ACT_CODES[act],
                           np.zeros((2, h + 2 * ph, (w + 2 * pw + 1) // 2), np.float32), np.empty(wo, np.float32), out)
        return out
    _depthwise_loop(np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(weight.reshape(c, kh, kw)),
                    np.ascontiguousarray(b, dtype=np.float32), sh, sw, ph, pw, ACT_CODES[act],
                    np.zeros((h + 2 * ph, w + 2 * pw), np.float32), np.empty(wo, np.float32), out)
    return out
