"""The AVX2 / AVX-VNNI tiles of :mod:`.tiles_avx2` with their epilogue fused (dequantisation, bias, activation while
the accumulators are still in registers: :func:`fused_kernel`), and one stored tile row's epilogue as vector IR
(:func:`epilogue`). Twins: the plain-loop tile followed by the scalar epilogue (:func:`_make_fused_fallback`).
"""
from functools import partial

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

from ..config import NUMBA_FLAGS_EXACT
from . import ir_build
from .tiles_avx2 import _KINDS, _TILES, NR, NV, _ir_products, _make_fallback


def _make_fused_intrinsic(kind, mr, bias_rows):
    from llvmlite import ir

    from .depthwise import ir_activation
    from .microkernel import LANES, ir_masked_f32

    @intrinsic
    def tile(typingctx, a, a_off, lda, taps, k_len, b, b_off, out, o_off, ldo, nrows, ncols, rs, r0, cs, cc, c0, bias,
             code):
        sig = types.void(a, a_off, lda, taps, k_len, b, b_off, out, o_off, ldo, nrows, ncols, rs, r0, cs, cc, c0, bias,
                         code)

        def codegen(context, builder, signature, args):
            sa = signature.args
            accs = _ir_products(context, builder, kind, mr, NV, sa[:7], args[:7])
            i64, i32, f32 = ir.IntType(64), ir.IntType(32), ir.FloatType()
            vec, ivec = ir.VectorType(f32, LANES), ir.VectorType(i32, LANES)
            v = {k: context.cast(builder, args[k], sa[k], types.int64) for k in (8, 9, 10, 11, 13, 16, 18)}

            def data(k):
                return ir_build.array_ptr(context, builder, sa[k], args[k])

            def vload(k, off, ty):
                return ir_build.vload(builder, data(k), off, ty)

            splat = partial(ir_build.splat, builder)

            c0 = v[16]
            csv = vload(14, c0, vec)
            ccv = vload(15, c0, ivec) if kind == "u8s8" else None
            bcol = None if bias_rows else vload(17, c0, vec)
            ys = []
            for i in range(mr):
                lo, hi = builder.load(accs[i][0]), builder.load(accs[i][1])
                acc = builder.shuffle_vector(lo, hi, ir.Constant(ivec, list(range(LANES))))
                if ccv is not None:
                    acc = builder.sub(acc, ccv)
                r = builder.add(v[13], ir.Constant(i64, i))
                rsv = splat(builder.load(builder.gep(data(12), [r])), vec)
                bv = splat(builder.load(builder.gep(data(17), [r])), vec) if bias_rows else bcol
                ys.append(builder.fadd(builder.fmul(builder.sitofp(acc, vec), builder.fmul(csv, rsv)), bv))
            ys = ir_activation(builder, v[18], ys)
            _, mstore = ir_masked_f32(builder)
            mask = builder.icmp_signed("<", ir.Constant(ivec, list(range(LANES))), splat(builder.trunc(v[11], i32), ivec))
            full = builder.icmp_signed(">=", v[11], ir.Constant(i64, LANES))
            op = data(7)
            for i, y in enumerate(ys):
                with builder.if_then(builder.icmp_signed("<", ir.Constant(i64, i), v[10]), likely=True):
                    ptr = builder.gep(op, [builder.add(v[8], builder.mul(v[9], ir.Constant(i64, i)))])
                    with builder.if_else(full, likely=True) as (whole, part):
                        with whole:  # a plain store: AVX2's masked store (vmaskmovps) is slow on AMD cores
                            builder.store(y, builder.bitcast(ptr, vec.as_pointer()), align=4)
                        with part:
                            mstore(y, ptr, mask)
            return context.get_dummy_value()

        return sig, codegen

    return tile


def _make_fused_fallback(e, mr, bias_rows, corr):
    from .activations import _act

    tile = _make_fallback(e, mr, NV)

    @njit(inline="always", **NUMBA_FLAGS_EXACT)
    def fused(a, a_off, lda, taps, k_len, b, b_off, out, o_off, ldo, nrows, ncols, rs, r0, cs, cc, c0, bias, code):
        c = np.empty(mr * NR, np.int32)
        tile(c, a, a_off, lda, taps, k_len, b, b_off)
        for i in range(nrows):
            for j in range(ncols):
                acc = c[i * NR + j] - cc[c0 + j] if corr else c[i * NR + j]
                bo = bias[r0 + i] if bias_rows else bias[c0 + j]
                out[o_off + i * ldo + j] = _act(np.float32(acc) * (cs[c0 + j] * rs[r0 + i]) + bo, code)

    return fused


def fused_kernel(mr: int, bias_rows: bool):
    """The MR-row tile with its epilogue fused: ``tile(a, a_off, lda, taps, k_len, b, b_off, out, o_off, ldo, nrows,
    ncols, rs, r0, cs, cc, c0, bias, code)`` inside ``@njit`` code computes the tile's accumulators like
    :func:`tile_kernel` and, still in registers, writes for ``i < nrows``, ``j < ncols <= 16``::

        out[o_off + i*ldo + j] = act(float32(acc[i, j] - cc[c0 + j]) * (cs[c0 + j] * rs[r0 + i]) + bias)

    with ``bias = bias[r0 + i]`` when ``bias_rows`` else ``bias[c0 + j]`` (``cc`` only with uint8 ``a``: the
    int16 layout has no offset). ``rs`` and row biases must be readable to ``r0 + MR``, ``cs``, ``cc`` and
    column biases to ``c0 + 16``.

    NOTE: the accumulators never leave the registers (no ``c`` round trip) and the row loop is unrolled, so a
    pointwise conv's or linear layer's epilogue costs ~10 vector ops per 8 outputs; as a separate pass over a
    stored tile (:func:`epilogue` per row) it was about a quarter of a 256-channel layer."""
    key = ("fused", mr, bias_rows)
    if key in _TILES:
        return _TILES[key]

    def tile(a, a_off, lda, taps, k_len, b, b_off, out, o_off, ldo, nrows, ncols, rs, r0, cs, cc, c0, bias, code):
        raise NotImplementedError("only callable from @njit code")

    impls = {}

    @overload(tile, jit_options=NUMBA_FLAGS_EXACT, inline="always")  # NOTE: a call would copy 19 arguments
    def _ov(a, a_off, lda, taps, k_len, b, b_off, out, o_off, ldo, nrows, ncols, rs, r0, cs, cc, c0, bias, code):
        kind, e, fast = _KINDS[(a.dtype, b.dtype)]
        if kind not in impls:
            impls[kind] = (_make_fused_intrinsic(kind, mr, bias_rows) if fast
                           else _make_fused_fallback(e, mr, bias_rows, kind == "u8s8"))
        run = impls[kind]

        def impl(a, a_off, lda, taps, k_len, b, b_off, out, o_off, ldo, nrows, ncols, rs, r0, cs, cc, c0, bias, code):
            run(a, a_off, lda, taps, k_len, b, b_off, out, o_off, ldo, nrows, ncols, rs, r0, cs, cc, c0, bias, code)

        return impl

    _TILES[key] = tile
    return tile


@intrinsic
def epilogue(typingctx, dst, d0, ct, c0, corr, u, vs, v0, bs, nj, code):
    """``dst[d0 + j] = act(float32(ct[c0 + j] - corr[j]) * (u * vs[v0 + j]) + bs[j])`` for ``j < nj <= 16``
    (1-D arrays; ct, corr, vs and bs readable 16 elements on): one tile row's dequantisation, bias and
    activation as 16-lane vector IR (two ymm per op on AVX2) with a masked store.

    NOTE: written as IR because LLVM left the Numba loop scalar (vcvtsi2ss per element: half of PP-OCRv2
    fc.1's 530K outputs' time). No fast-math flags, so mul and add round separately as in the twins; the
    activation is :func:`.depthwise.ir_activation`, the AVX-512 epilogue's (HardSwish multiplies by 1/6)."""
    sig = types.void(dst, d0, ct, c0, corr, u, vs, v0, bs, nj, code)

    def codegen(context, builder, signature, args):
        from llvmlite import ir

        from .depthwise import ir_activation
        from .microkernel import LANES, ir_masked_f32

        sa = signature.args
        dst_v, d0_v, ct_v, c0_v, corr_v, u_v, vs_v, v0_v, bs_v, nj_v, code_v = ir_build.int64_args(context, builder, args, sa)
        u_v = context.cast(builder, args[5], sa[5], types.float32)
        i32, f32 = ir.IntType(32), ir.FloatType()
        vec, ivec = ir.VectorType(f32, LANES), ir.VectorType(i32, LANES)

        def data(k, v):
            return ir_build.array_ptr(context, builder, sa[k], v)

        vload, splat = partial(ir_build.vload, builder), partial(ir_build.splat, builder)
        zero64 = ir.Constant(ir.IntType(64), 0)
        acc = builder.sub(vload(data(2, ct_v), c0_v, ivec), vload(data(4, corr_v), zero64, ivec))
        scale = builder.fmul(splat(u_v, vec), vload(data(6, vs_v), v0_v, vec))
        y = builder.fadd(builder.fmul(builder.sitofp(acc, vec), scale), vload(data(8, bs_v), zero64, vec))
        (y,) = ir_activation(builder, code_v, [y])
        ptr = builder.gep(data(0, dst_v), [d0_v])
        full = builder.icmp_signed(">=", nj_v, ir.Constant(ir.IntType(64), LANES))
        with builder.if_else(full, likely=True) as (whole, part):
            with whole:  # NOTE: a plain store: AVX2's masked store (vmaskmovps) is slow on AMD cores
                builder.store(y, builder.bitcast(ptr, vec.as_pointer()), align=4)
            with part:
                mask = builder.icmp_signed("<", ir.Constant(ivec, list(range(LANES))), splat(builder.trunc(nj_v, i32), ivec))
                _, mstore = ir_masked_f32(builder)
                mstore(y, ptr, mask)
        return context.get_dummy_value()

    return sig, codegen
