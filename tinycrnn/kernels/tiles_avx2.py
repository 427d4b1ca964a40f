"""Register-tiled int8 micro-kernels for x86 CPUs with AVX2 but without AVX-512 VNNI (Haswell to Zen 3,
most laptops), and with AVX-VNNI (VEX ``vpdpbusd`` on ymm: Alder Lake and later client cores), emitted as
LLVM IR like :mod:`.microkernel`, with plain-loop twins. The same tiles with their epilogue fused are
:mod:`.tiles_avx2_fused`.

# c (MR, NR) int32 = sum over taps t and groups g < G of  a[a_off + i*lda + taps[t] + g*E .. +E] . b[(t*G + g) block]
# b packed (taps*G, NR, E): one group step reads NV = NR/8 ymm vectors; NR = 16 (2 ymm)

The kind follows the dtypes of ``a`` (the broadcast operand) and ``b``, chosen when Numba types the call:

- ``int16`` a, ``int16`` b, E = 2 (AVX2): ``vpmaddwd`` on 16-bit pairs (the int8 and uint8 values
  widened when they are quantised or packed), then ``vpaddd`` into int32 accumulators. Exact, no 16-bit
  saturation anywhere: pmaddwd multiplies int16 x int16 into full 32-bit products and adds the two of a
  pair in 32 bits (it wraps only for -32768 * -32768 twice); here |a| <= 255 (uint8 conv activations)
  or 127 and |b| <= 127, so a lane is at most 2 * 255 * 127 = 64770, and an int32 accumulator overflows
  only after ~33000 such pairs (K > 66000; the models have K <= 2304).
- ``int16`` a, ``int8`` b (kind s16b8): the same pairs with b stored as int8 and widened by the load
  (``vpmovsxbw``): half the weight bytes, for the one-row LSTM recurrence, which streams its weights.

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
from . import ir_build
from .microkernel import _FEATURES

LANES8 = 8  # int32 lanes of a ymm register
NV = 2
NR = NV * LANES8
#: AVX2 (no AVX-512 VNNI needed): the int16 and int8 sign-trick tiles.
HAS_AVX2 = {"avx2"} <= _FEATURES
#: AVX-VNNI (VEX vpdpbusd on ymm): the uint8 x int8 tile.
HAS_AVXVNNI = HAS_AVX2 and "avxvnni" in _FEATURES


def _asm_s16_loop(builder, accs, arow, lda, bcur, k_len):
    """One tap's k loop of the int16 tile (NV = 2) as inline assembly: per step 2 vmovdqu of b, per row one
    vpbroadcastd of a, 2 vpmaddwd and 2 vpaddd; the MR x 2 accumulators, b and the broadcast fill the 16 ymm.

    NOTE: as IR, LLVM unrolled this loop twice, spilled two accumulators per iteration and spent ~6 address
    computations per step (rows addressed from a row pointer and lda, 3*lda); here rows are (r0), (r0, lda),
    (r0, lda, 2), (r1), (r1, lda), (r1, lda, 2) with r1 = r0 + 3*lda, and the loop is 4 scalar ops. Bit-exact with
    the IR loop (same instructions); 3-6% faster alone, more inside the kernels. The clobber list names ``flags``
    (LLVM's x86 name; ``cc`` is silently ignored, and LLVM then kept a compare's flags across the loop)."""
    from llvmlite import binding, ir

    binding.initialize_native_asmparser()  # Numba initialises the asm printer only; inline asm needs the parser
    i64, i16p = ir.IntType(64), ir.IntType(16).as_pointer()
    v8i32 = ir.VectorType(ir.IntType(32), LANES8)
    mr = len(accs)
    na = 2 * mr
    pb, r0, r1, k = (f"${{{na + t}:q}}" for t in range(4))
    ld = f"${{{2 * (na + 4)}:q}}"
    acc = [[f"${{{2 * i + j}}}" for j in range(2)] for i in range(mr)]
    lines = [f"test {k}, {k}", "jz 2f", "1:", f"vmovdqu ({pb}), %ymm12", f"vmovdqu 32({pb}), %ymm13"]
    for i in range(mr):
        base = r0 if i < 3 else r1
        addr = [f"({base})", f"({base},{ld})", f"({base},{ld},2)"][i % 3]
        lines.append(f"vpbroadcastd {addr}, %ymm14")
        for j in range(2):
            lines += [f"vpmaddwd %ymm{12 + j}, %ymm14, %ymm15", f"vpaddd %ymm15, {acc[i][j]}, {acc[i][j]}"]
    lines += [f"add $$4, {r0}", f"add $$4, {r1}", f"add $$64, {pb}", f"dec {k}", "jnz 1b", "2:"]
    cons = ",".join(["=x"] * na + ["=r"] * 4 + [str(t) for t in range(na + 4)] + ["r"]
                    + ["~{ymm12}", "~{ymm13}", "~{ymm14}", "~{ymm15}", "~{flags}", "~{memory}"])
    lda_bytes = builder.mul(lda, ir.Constant(i64, 2))
    bb = builder.load(bcur)
    r0v = builder.bitcast(arow, i16p)
    r1v = builder.gep(r0v, [builder.mul(lda, ir.Constant(i64, 3))])
    ins = [builder.load(accs[i][j]) for i in range(mr) for j in range(2)] + [bb, r0v, r1v, k_len, lda_bytes]
    outs = ir.LiteralStructType([v8i32] * na + [bb.type, i16p, i16p, i64])
    fty = ir.FunctionType(outs, [t.type for t in ins])
    res = builder.asm(fty, "\n".join(lines), cons, ins, side_effect=True)
    for i in range(mr):
        for j in range(2):
            builder.store(builder.extract_value(res, 2 * i + j), accs[i][j])
    builder.store(builder.extract_value(res, na), bcur)


def _ir_products(context, builder, kind, mr, nv, sa, args):
    """The tile's k loop as IR: returns the MR x NV allocas of its <8 x i32> accumulators (promoted to registers).
    ``sa``/``args``: the types and values of ``(a, a_off, lda, taps, k_len, b, b_off)``."""
    from llvmlite import ir

    a_v, a_off_v, lda_v, taps_v, k_v, b_v, b_off_v = args
    aty, _, _, tty, _, bty, _ = sa
    i64, i32, i16 = ir.IntType(64), ir.IntType(32), ir.IntType(16)
    v8i32 = ir.VectorType(i32, LANES8)
    v16i16 = ir.VectorType(i16, 16)
    ap = ir_build.array_ptr(context, builder, aty, a_v)
    tarr = context.make_array(tty)(context, builder, taps_v)
    bp = ir_build.array_ptr(context, builder, bty, b_v)
    mod = builder.module

    def fn(name, ret, argtys):
        return cgutils.get_or_insert_function(mod, ir.FunctionType(ret, argtys), name)

    if kind in ("s16", "s16b8"):
        e, bvty = 2, (v16i16 if kind == "s16" else ir.VectorType(ir.IntType(8), 16))
        pmaddwd = fn("llvm.x86.avx2.pmadd.wd", v8i32, [v16i16, v16i16])
    else:  # u8s8
        e, bvty = 4, v8i32
        dpbusd = fn("llvm.x86.avx512.vpdpbusd.256", v8i32, [v8i32, v8i32, v8i32])
    per_vec_b = LANES8 * e  # b elements per ymm
    a0 = builder.gep(ap, [builder.sext(a_off_v, i64)])
    lda64 = builder.sext(lda_v, i64)
    zero = ir.Constant(v8i32, None)
    accs = [[cgutils.alloca_once_value(builder, zero) for _ in range(nv)] for _ in range(mr)]
    bcur = cgutils.alloca_once_value(builder, builder.gep(bp, [builder.sext(b_off_v, i64)]))
    ntap = builder.extract_value(tarr.shape, 0)
    with cgutils.for_range(builder, ntap) as tl:
        arow = builder.gep(a0, [builder.load(builder.gep(tarr.data, [tl.index]))])
        if kind == "s16" and nv == 2:
            _asm_s16_loop(builder, accs, arow, lda64, bcur, builder.sext(k_v, i64))
        else:
            with cgutils.for_range(builder, builder.sext(k_v, i64)) as kl:
                bb = builder.load(bcur)
                bvec = [builder.load(builder.bitcast(builder.gep(bb, [ir.Constant(i64, per_vec_b * j)]),
                                                     bvty.as_pointer()), align=1) for j in range(nv)]
                if kind == "s16b8":  # int8 weights widened as they are loaded (vpmovsxbw): half the bytes
                    bvec = [builder.sext(v, v16i16) for v in bvec]
                kk = builder.mul(kl.index, ir.Constant(i64, e))
                for i in range(mr):
                    ptr = builder.gep(arow, [builder.add(builder.mul(lda64, ir.Constant(i64, i)), kk)])
                    av = builder.load(builder.bitcast(ptr, i32.as_pointer()), align=1)  # E elements = 32 bits
                    splat = ir_build.splat(builder, av, v8i32)
                    for j in range(nv):
                        acc = builder.load(accs[i][j])
                        if kind != "u8s8":
                            p = builder.call(pmaddwd, [builder.bitcast(splat, v16i16), bvec[j]])
                            acc = builder.add(acc, p)
                        else:
                            acc = builder.call(dpbusd, [acc, splat, bvec[j]])
                        builder.store(acc, accs[i][j])
                builder.store(builder.gep(bb, [ir.Constant(i64, per_vec_b * nv)]), bcur)
    return accs


def _make_intrinsic(kind, mr, nv):
    from llvmlite import ir

    @intrinsic
    def tile(typingctx, c, a, a_off, lda, taps, k_len, b, b_off):
        sig = types.void(c, a, a_off, lda, taps, k_len, b, b_off)

        def codegen(context, builder, signature, args):
            accs = _ir_products(context, builder, kind, mr, nv, signature.args[1:], args[1:])
            i64, v8i32 = ir.IntType(64), ir.VectorType(ir.IntType(32), LANES8)
            cp = ir_build.array_ptr(context, builder, signature.args[0], args[0])
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


_KINDS = {(types.int16, types.int16): ("s16", 2, HAS_AVX2), (types.int16, types.int8): ("s16b8", 2, HAS_AVX2),
          (types.uint8, types.int8): ("u8s8", 4, HAS_AVXVNNI)}
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
        kind, e, fast = _KINDS[(a.dtype, b.dtype)]
        if kind not in impls:
            impls[kind] = _make_intrinsic(kind, mr, NV) if fast else _make_fallback(e, mr, NV)
        run = impls[kind]

        def impl(c, a, a_off, lda, taps, k_len, b, b_off):
            run(c, a, a_off, lda, taps, k_len, b, b_off)

        return impl

    _TILES[mr] = tile
    return tile
