"""Register-tiled int8 micro-kernels for x86 CPUs with AVX2 but without AVX-512 VNNI (Haswell to Zen 3,
most laptops), and with AVX-VNNI (VEX ``vpdpbusd`` on ymm: Alder Lake and later client cores), emitted as
LLVM IR like :mod:`.microkernel`, with plain-loop twins.

# c (MR, NR) int32 = sum over taps t and groups g < G of  a[a_off + i*lda + taps[t] + g*E .. +E] . b[(t*G + g) block]
# b packed (taps*G, NR, E): one group step reads NV = NR/8 ymm vectors; NR = 16 (2 ymm)

The kind follows the dtype of ``a`` (the broadcast operand), chosen when Numba types the call:

- ``int16`` a, ``int16`` b, E = 2 (AVX2): ``vpmaddwd`` on 16-bit pairs (the int8 and uint8 values
  widened when they are quantised or packed), then ``vpaddd`` into int32 accumulators. Exact, no 16-bit
  saturation anywhere: pmaddwd multiplies int16 x int16 into full 32-bit products and adds the two of a
  pair in 32 bits (it wraps only for -32768 * -32768 twice); here |a| <= 255 (uint8 conv activations)
  or 127 and |b| <= 127, so a lane is at most 2 * 255 * 127 = 64770, and an int32 accumulator overflows
  only after ~33000 such pairs (K > 66000; the models have K <= 2304).

NOTE: ``vpmaddubsw`` (u8 x s8 pairs summed into int16) saturates: 2 * 255 * 127 > 32767 for the conv's
uint8 activations. For the signed kernels (|a|, |b| <= 127) the vpabsb + vpsignb + vpmaddubsw +
vpmaddwd(ones) sign trick is exact (2 * 127 * 127 = 32258) and halves the bytes, but was measured 1.6x
slower than vpmaddwd on Zen 3 (13 against 8 cycles per 256 multiply-adds in a 4x16 tile: vpsignb and
vpabsb compete for the multiply pipes), so it is not used.
- ``uint8`` a, ``int8`` b, E = 4 (AVX-VNNI): ``vpdpbusd`` on ymm (``llvm.x86.avx512.vpdpbusd.256``, which
  LLVM encodes as VEX ``{vex} vpdpbusd`` with the ``avxvnni`` feature): 4 u8 x s8 products summed into each
  int32 lane without saturation, the AVX-512 VNNI tile's arithmetic on 256-bit registers.

A kind whose instructions this CPU lacks is never emitted: the call compiles to the plain-loop twin
(which is how tests run the AVX-VNNI layout on CPUs without it). MR x NV accumulators plus NV b vectors
and the broadcast stay within the 16 ymm registers (checked with ``inspect_asm``: no stack spills in
the k loop).
"""
import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from ..config import NUMBA_FLAGS_EXACT
from .microkernel import _FEATURES

LANES8 = 8  # int32 lanes of a ymm register
NV = 2
NR = NV * LANES8
#: AVX2 (no AVX-512 VNNI needed): the int16 and int8 sign-trick tiles.
HAS_AVX2 = {"avx2"} <= _FEATURES
#: AVX-VNNI (VEX vpdpbusd on ymm): the uint8 x int8 tile.
HAS_AVXVNNI = HAS_AVX2 and "avxvnni" in _FEATURES


def _make_intrinsic(kind, mr, nv):
    from llvmlite import ir

    @intrinsic
    def tile(typingctx, c, a, a_off, lda, taps, k_len, b, b_off):
        sig = types.void(c, a, a_off, lda, taps, k_len, b, b_off)

        def codegen(context, builder, signature, args):
            c_v, a_v, a_off_v, lda_v, taps_v, k_v, b_v, b_off_v = args
            cty, aty, _, _, tty, _, bty, _ = signature.args
            i64, i32, i16 = ir.IntType(64), ir.IntType(32), ir.IntType(16)
            v8i32 = ir.VectorType(i32, LANES8)
            v16i16 = ir.VectorType(i16, 16)
            cp = context.make_array(cty)(context, builder, c_v).data
            ap = context.make_array(aty)(context, builder, a_v).data
            tarr = context.make_array(tty)(context, builder, taps_v)
            bp = context.make_array(bty)(context, builder, b_v).data
            mod = builder.module

            def fn(name, ret, argtys):
                return cgutils.get_or_insert_function(mod, ir.FunctionType(ret, argtys), name)

            if kind == "s16":
                e, bvty = 2, v16i16
                pmaddwd = fn("llvm.x86.avx2.pmadd.wd", v8i32, [v16i16, v16i16])
            else:  # u8s8
                e, bvty = 4, v8i32
                dpbusd = fn("llvm.x86.avx512.vpdpbusd.256", v8i32, [v8i32, v8i32, v8i32])
            per_vec_b = LANES8 * e  # b elements per ymm
            a0 = builder.gep(ap, [builder.sext(a_off_v, i64)])
            lda64 = builder.sext(lda_v, i64)
            zero = ir.Constant(v8i32, None)
            smask = ir.Constant(v8i32, None)
            accs = [[cgutils.alloca_once_value(builder, zero) for _ in range(nv)] for _ in range(mr)]
            bcur = cgutils.alloca_once_value(builder, builder.gep(bp, [builder.sext(b_off_v, i64)]))
            ntap = builder.extract_value(tarr.shape, 0)
            with cgutils.for_range(builder, ntap) as tl:
                arow = builder.gep(a0, [builder.load(builder.gep(tarr.data, [tl.index]))])
                with cgutils.for_range(builder, builder.sext(k_v, i64)) as kl:
                    bb = builder.load(bcur)
                    bvec = [builder.load(builder.bitcast(builder.gep(bb, [ir.Constant(i64, per_vec_b * j)]),
                                                         bvty.as_pointer()), align=1) for j in range(nv)]
                    kk = builder.mul(kl.index, ir.Constant(i64, e))
                    for i in range(mr):
                        ptr = builder.gep(arow, [builder.add(builder.mul(lda64, ir.Constant(i64, i)), kk)])
                        av = builder.load(builder.bitcast(ptr, i32.as_pointer()), align=1)  # E elements = 32 bits
                        splat = builder.shuffle_vector(builder.insert_element(zero, av, ir.Constant(i32, 0)), zero, smask)
                        for j in range(nv):
                            acc = builder.load(accs[i][j])
                            if kind == "s16":
                                p = builder.call(pmaddwd, [builder.bitcast(splat, v16i16), bvec[j]])
                                acc = builder.add(acc, p)
                            else:
                                acc = builder.call(dpbusd, [acc, splat, bvec[j]])
                            builder.store(acc, accs[i][j])
                    builder.store(builder.gep(bb, [ir.Constant(i64, per_vec_b * nv)]), bcur)
            for i in range(mr):
                for j in range(nv):
                    dst = builder.gep(cp, [ir.Constant(i64, (i * nv + j) * LANES8)])
                    builder.store(builder.load(accs[i][j]), builder.bitcast(dst, v8i32.as_pointer()), align=1)
            return context.get_dummy_value()

        return sig, codegen

    return tile


def _make_fallback(e, mr, nv):
    nr = nv * LANES8

    @njit(inline="always", **NUMBA_FLAGS_EXACT)
    def tile(c, a, a_off, lda, taps, k_len, b, b_off):
        for x in range(mr * nr):
            c[x] = 0
        q = b_off
        for t in range(taps.shape[0]):
            base = a_off + taps[t]
            for k in range(k_len):
                for i in range(mr):
                    p = base + i * lda + e * k
                    for j in range(nr):
                        r = q + e * j
                        s = np.int32(0)
                        for u in range(e):
                            s += np.int32(a[p + u]) * np.int32(b[r + u])
                        c[i * nr + j] += s
                q += e * nr

    return tile


_KINDS = {types.int16: ("s16", 2, HAS_AVX2), types.uint8: ("u8s8", 4, HAS_AVXVNNI)}
_TILES = {}


def tile_kernel(mr: int):
    """The MR-row tile (NR = 16 columns): ``tile(c, a, a_off, lda, taps, k_len, b, b_off)`` inside ``@njit``
    code overwrites ``c[:MR*NR]`` (all arrays 1-D, offsets in elements, ``k_len`` groups of E elements per
    tap). The instruction kind follows ``a.dtype`` (module docstring)."""
    if mr in _TILES:
        return _TILES[mr]

    def tile(c, a, a_off, lda, taps, k_len, b, b_off):  # typed by the overload below
        raise NotImplementedError("only callable from @njit code")

    impls = {}

    @overload(tile, jit_options=NUMBA_FLAGS_EXACT)
    def _ov(c, a, a_off, lda, taps, k_len, b, b_off):
        kind, e, fast = _KINDS[a.dtype]
        if kind not in impls:
            impls[kind] = _make_intrinsic(kind, mr, NV) if fast else _make_fallback(e, mr, NV)
        run = impls[kind]

        def impl(c, a, a_off, lda, taps, k_len, b, b_off):
            run(c, a, a_off, lda, taps, k_len, b, b_off)

        return impl

    _TILES[mr] = tile
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
        vals = [context.cast(builder, a, t, types.int64) if isinstance(t, types.Integer) else a for a, t in zip(args, sa)]
        dst_v, d0_v, ct_v, c0_v, corr_v, u_v, vs_v, v0_v, bs_v, nj_v, code_v = vals
        u_v = context.cast(builder, args[5], sa[5], types.float32)
        i32, f32 = ir.IntType(32), ir.FloatType()
        vec, ivec = ir.VectorType(f32, LANES), ir.VectorType(i32, LANES)

        def data(k, v):
            return context.make_array(sa[k])(context, builder, v).data

        def vload(ptr, off, ty):
            return builder.load(builder.bitcast(builder.gep(ptr, [off]), ty.as_pointer()), align=4)

        def splat(x, ty):
            z = ir.Constant(ty, None)
            return builder.shuffle_vector(builder.insert_element(z, x, ir.Constant(i32, 0)), z, ir.Constant(ivec, None))

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
