"""Register-tiled GEMM micro-kernels emitted as LLVM IR (AVX-512 FMA and AVX-512 VNNI), with plain fallbacks.

# c (MR, NR) = sum over taps t and k < K: a[a_off + i*lda + taps[t] + k*E .. +E] . b[(t*K + k) block]

NOTE: written as Numba intrinsics because Numba's auto-vectoriser never produced usable int8 code
here: LLVM picks 256-bit vectors for this CPU ("rocketlake" tuning prefers ymm), turns
``int32(a) * int32(b)`` into vpmovsxbd + vpmulld (slower than fp32 FMA), and only matches
``vpdpbusd`` for whole-vector reductions, never for a loop-carried accumulator. Emitting
``llvm.x86.avx512.vpdpbusd.512`` / ``llvm.fma.v16f32`` directly gives MR x NV zmm accumulators
kept in registers across the whole K loop (checked with ``inspect_asm``: the inner loop is NV
vmovdqu64 + MR vpbroadcastd + MR*NV vpdpbusd, no spills; ~450 GOP/s int8 on one Sapphire
Rapids core vs ~190 GFLOP/s fp32 peak). On AVX2 + FMA without AVX-512 (``YMM_F32``) the f32 tile is
emitted in ymm sub-blocks instead (:func:`_make_ymm_f32`: same layouts, same results, no spills) and the FP32
kernels use 6-row tiles (``F32_MR``); CPUs without the features get the same tile computed by plain Numba loops
(correct, slower), so every kernel stays exact against its twin.

Kinds: ``"u8s8"``: a uint8, b int8 packed ``(taps*K, NR, 4)``, c int32, E = 4 bytes per k
(one vpdpbusd step: 4 u8 x s8 products summed into each int32 lane, exact, no saturation).
``"f32"``: a, b, c float32, b packed ``(taps*K, NR)``, E = 1.
"""
import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..config import NUMBA_FLAGS_EXACT
from . import ir_build

LANES = 16  # int32 / float32 lanes of a zmm register

#: ``taps`` for a one-tap tile call (a plain GEMM). A global, so kernels read it as a frozen
#: constant: an ``np.zeros`` inside ``@njit`` code compiles NumPy's allocation overloads on every
#: empty cache (0.1-0.3 s of the first-ever run), a constant costs nothing.
TAP0 = np.zeros(1, np.int64)


def _cpu_features():
    import numba
    from llvmlite import binding as llvm

    if numba.config.CPU_FEATURES:
        return {f[1:] for f in numba.config.CPU_FEATURES.split(",") if f.startswith("+")}
    if numba.config.CPU_NAME and numba.config.CPU_NAME != "host":
        return set()
    try:
        return {k for k, v in llvm.get_host_cpu_features().items() if v}
    except RuntimeError:
        return set()


_FEATURES = _cpu_features()
HAS_AVX512 = {"avx512f", "avx512bw"} <= _FEATURES
HAS_VNNI = HAS_AVX512 and "avx512vnni" in _FEATURES
#: The float32 tiles and kernels are generic LLVM vector IR (16-lane ``llvm.fma``, masked load and
#: store, ``maxnum``, ``floor``), not AVX-512 instructions: on an AVX2 + FMA CPU LLVM splits each op
#: into two ymm ops. Compiled for Haswell on this machine (``NUMBA_CPU_NAME=haswell`` with Haswell's
#: ``NUMBA_CPU_FEATURES``; ``.ci/run`` runs the kernel tests that way) english_g2 takes 20.65 ms per
#: 64x256 line on them (``benchmarks/RESULTS.md``, "CPUs without AVX-512 VNNI"), against 42.4 ms on the
#: plain loops in a one-off measurement.
HAS_VEC = HAS_AVX512 or {"avx2", "fma"} <= _FEATURES
#: aarch64: NEON and FMA are part of the base ISA, so the generic vector IR always applies; the tiles come from
#: :mod:`.tiles_arm` (``fmla``, and ``sdot`` or ``mul``/``sadalp`` chosen by :mod:`.cpu_features`).
from .cpu_features import IS_AARCH64 as _ARM  # noqa: E402

HAS_VEC = HAS_VEC or _ARM
#: x86 with AVX2 + FMA and without AVX-512 (Haswell .. Zen 3, most laptops): 16 ymm registers. There the f32 tile is
#: emitted as ymm sub-blocks of at most 12 accumulators (:func:`_make_ymm_f32`) and the FP32 kernels use MR = 6 rows
#: (:data:`F32_MR`). The 16-lane IR of :func:`_make_intrinsic` would keep 8 x 2 zmm = 32 ymm accumulators live in 16
#: registers: LLVM spills them inside the k loop (~17 GFLOP/s per core on Zen 3, ~48 as 6 x 16 ymm).
YMM_F32 = HAS_VEC and not HAS_AVX512 and not _ARM
#: Rows of the FP32 conv / GEMM tile (columns: NR = 32 everywhere, the packed weight layouts do not change):
#: 8 (8 x 2 zmm) on AVX-512, ARM (see :mod:`.tiles_arm`) and the portable loops; 6 (2 passes of 6 x 16 ymm) on AVX2.
F32_MR = 6 if YMM_F32 else 8


def _u8s8_a_bias():
    if not _ARM:
        return 0
    from .cpu_features import arm_int8_kind
    from .tiles_arm import A_BIAS

    return A_BIAS.get(arm_int8_kind(), 0)


#: The ``"u8s8"`` tiles return ``sum (a - U8S8_A_BIAS) * b``: 0 (exact u8 x s8) except the aarch64 sdot tile (128),
#: which leaves the ``+128 * sum(b)`` to callers that need it (a compile-time constant inside ``@njit`` code).
U8S8_A_BIAS = _u8s8_a_bias()
#: aarch64 dotprod also has an ``"s8s8"`` tile (exact signed x signed): :mod:`.int8`'s conv stores its uint8
#: activations pre-flipped (``q ^ 0x80``, the signed byte ``q - 128``) for it, which saves the sdot tile's ``eor``s.
HAS_S8S8 = U8S8_A_BIAS == 128


def ir_pointer_suffix(pointee):
    """The name suffix of an overloaded intrinsic's pointer argument (address space 0) pointing at ``pointee``,
    an LLVM mangled type name such as ``"v16f32"``.

    NOTE: ``"p0"`` once LLVM's pointers are opaque (LLVM >= 16: llvmlite >= 0.45; llvmlite 0.44's LLVM 15 only
    with ``LLVMLITE_ENABLE_OPAQUE_POINTERS=1``), ``"p0" + pointee`` while they are typed (LLVM 14: llvmlite
    0.41-0.43 with Numba 0.58-0.60; llvmlite 0.44 by default)."""
    import llvmlite
    from llvmlite import binding as llvm

    opaque = llvm.llvm_version_info >= (16,) or getattr(llvmlite, "opaque_pointers_enabled", False)
    return "p0" if opaque else "p0" + pointee


def ir_masked_f32(builder, lanes: int = LANES):
    """``load(ptr, mask, passthru)`` and ``store(value, ptr, mask)``: ``llvm.masked.load`` / ``store`` of a
    <lanes x float> at a float pointer (alignment 4, ``mask`` a <lanes x i1>; 16 lanes unless told).

    NOTE: the pointer is cast to ``<lanes x float>*``, the intrinsics' operand type under typed pointers (and a
    no-op cast under opaque ones), and the name mangled to match (:func:`ir_pointer_suffix`)."""
    from llvmlite import ir

    i32 = ir.IntType(32)
    vec, mvec = ir.VectorType(ir.FloatType(), lanes), ir.VectorType(ir.IntType(1), lanes)
    vptr, align = vec.as_pointer(), ir.Constant(i32, 4)
    vname = f"v{lanes}f32"
    name = vname + "." + ir_pointer_suffix(vname)
    ld = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vptr, i32, mvec, vec]), "llvm.masked.load." + name)
    st = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [vec, vptr, i32, mvec]), "llvm.masked.store." + name)

    def load(ptr, mask, passthru):
        return builder.call(ld, [builder.bitcast(ptr, vptr), align, mask, passthru])

    def store(value, ptr, mask):
        builder.call(st, [value, builder.bitcast(ptr, vptr), align, mask])

    return load, store


def _make_intrinsic(kind, mr, nv):
    from llvmlite import ir

    @intrinsic
    def tile(typingctx, c, a, a_off, lda, taps, k_len, b, b_off):
        sig = types.void(c, a, a_off, lda, taps, k_len, b, b_off)

        def codegen(context, builder, signature, args):
            c_v, a_v, a_off_v, lda_v, taps_v, k_v, b_v, b_off_v = args
            cty, aty, _, _, tty, _, bty, _ = signature.args
            i64 = ir.IntType(64)
            i32 = ir.IntType(32)
            f32 = ir.FloatType()
            lane = i32 if kind == "u8s8" else f32
            vec = ir.VectorType(lane, LANES)
            cp = ir_build.array_ptr(context, builder, cty, c_v)
            ap = ir_build.array_ptr(context, builder, aty, a_v)
            tarr = context.make_array(tty)(context, builder, taps_v)
            bp = ir_build.array_ptr(context, builder, bty, b_v)
            if kind == "u8s8":
                fn = cgutils.get_or_insert_function(
                    builder.module, ir.FunctionType(vec, [vec, vec, vec]), "llvm.x86.avx512.vpdpbusd.512"
                )
                per_k_a, per_vec_b = 4, LANES * 4  # elements (bytes)
            else:
                fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]), "llvm.fma.v16f32")
                per_k_a, per_vec_b = 1, LANES
            a0 = builder.gep(ap, [builder.sext(a_off_v, i64)])
            lda64 = builder.sext(lda_v, i64)
            zero = ir.Constant(vec, None)
            accs = [[cgutils.alloca_once_value(builder, zero) for _ in range(nv)] for _ in range(mr)]
            bcur = cgutils.alloca_once_value(builder, builder.gep(bp, [builder.sext(b_off_v, i64)]))
            ntap = builder.extract_value(tarr.shape, 0)
            with cgutils.for_range(builder, ntap) as tl:
                arow = builder.gep(a0, [builder.load(builder.gep(tarr.data, [tl.index]))])
                with cgutils.for_range(builder, builder.sext(k_v, i64)) as kl:
                    bb = builder.load(bcur)
                    bvec = [
                        builder.load(builder.bitcast(builder.gep(bb, [ir.Constant(i64, per_vec_b * j)]), vec.as_pointer()), align=1)
                        for j in range(nv)
                    ]
                    kk = builder.mul(kl.index, ir.Constant(i64, per_k_a))
                    for i in range(mr):
                        ptr = builder.gep(arow, [builder.add(builder.mul(lda64, ir.Constant(i64, i)), kk)])
                        av = builder.load(builder.bitcast(ptr, lane.as_pointer()), align=1)
                        splat = ir_build.splat(builder, av, zero.type)
                        for j in range(nv):
                            acc = builder.load(accs[i][j])
                            if kind == "u8s8":
                                builder.store(builder.call(fn, [acc, splat, bvec[j]]), accs[i][j])
                            else:
                                builder.store(builder.call(fn, [splat, bvec[j], acc]), accs[i][j])
                    builder.store(builder.gep(bb, [ir.Constant(i64, per_vec_b * nv)]), bcur)
            for i in range(mr):
                for j in range(nv):
                    dst = builder.gep(cp, [ir.Constant(i64, (i * nv + j) * LANES)])
                    builder.store(builder.load(accs[i][j]), builder.bitcast(dst, vec.as_pointer()), align=1)
            return context.get_dummy_value()

        return sig, codegen

    return tile


def _make_fallback(kind, mr, nv):
    nr = nv * LANES
    if kind == "u8s8":

        @njit(inline="always", **NUMBA_FLAGS_EXACT)
        def tile(c, a, a_off, lda, taps, k_len, b, b_off):
            for x in range(mr * nr):
                c[x] = 0
            q = b_off
            for t in range(taps.shape[0]):
                base = a_off + taps[t]
                for k in range(k_len):
                    for i in range(mr):
                        p = base + i * lda + 4 * k
                        a0, a1, a2, a3 = np.int32(a[p]), np.int32(a[p + 1]), np.int32(a[p + 2]), np.int32(a[p + 3])
                        for j in range(nr):
                            r = q + 4 * j
                            c[i * nr + j] += (a0 * np.int32(b[r]) + a1 * np.int32(b[r + 1])
                                              + a2 * np.int32(b[r + 2]) + a3 * np.int32(b[r + 3]))
                    q += 4 * nr

        return tile

    @njit(inline="always", **NUMBA_FLAGS_EXACT)
    def tile(c, a, a_off, lda, taps, k_len, b, b_off):
        for x in range(mr * nr):
            c[x] = 0.0
        q = b_off
        for t in range(taps.shape[0]):
            base = a_off + taps[t]
            for k in range(k_len):
                for i in range(mr):
                    av = a[base + i * lda + k]
                    for j in range(nr):
                        c[i * nr + j] += av * b[q + j]
                q += nr

    return tile


def _ymm_blocks(mr, nvec):
    """(row0, rows, vec0, vecs) ymm sub-blocks covering ``mr`` rows x ``nvec`` 8-float column vectors: at most 12
    accumulators (+ the b vectors and one broadcast within 16 registers). Rows in even chunks of <= 6 with 2 vectors
    (16 columns) each; one or two rows take up to 4 vectors (a 1-row mat-vec is FMA-latency bound: more chains)."""
    if mr <= 2:
        v = min(nvec, 4)
        return [(0, mr, v0, min(v, nvec - v0)) for v0 in range(0, nvec, v)]
    chunks = -(-mr // 6)
    bounds = [mr * q // chunks for q in range(chunks + 1)]
    return [(bounds[q], bounds[q + 1] - bounds[q], v0, min(2, nvec - v0))
            for v0 in range(0, nvec, 2) for q in range(chunks)]


def _make_ymm_f32(mr, nv):
    """The f32 tile of :func:`_make_intrinsic` (same call, same packed b layout of NR = nv * 16 columns, the same
    fma chain per output in the same order: bit-identical results) for AVX2 + FMA: <8 x float> ``llvm.fma`` in
    sub-blocks from :func:`_ymm_blocks`, each with its own pass over taps and k (a and b re-read from L1).

    NOTE: measured on Zen 3 (one core, K = 96, b in L1): 8 x 32 as 16-lane IR 17-18 GFLOP/s (spills); 6 x 16 ymm
    48-50; 4 x 24 48; 6 x 32 as two 6 x 16 passes 46-50 (the same as 6 x 16 with a 16-column layout); 8 x 32 as
    four 4 x 16 passes 38-49; 3 x 32 (12 accumulators + 4 b + 1 broadcast = 17 registers) 24-31."""
    from llvmlite import ir

    ylanes = 8
    nr = nv * LANES
    blocks = _ymm_blocks(mr, nr // ylanes)

    @intrinsic
    def tile(typingctx, c, a, a_off, lda, taps, k_len, b, b_off):
        sig = types.void(c, a, a_off, lda, taps, k_len, b, b_off)

        def codegen(context, builder, signature, args):
            c_v, a_v, a_off_v, lda_v, taps_v, k_v, b_v, b_off_v = args
            cty, aty, _, _, tty, _, bty, _ = signature.args
            i64, f32 = ir.IntType(64), ir.FloatType()
            vec = ir.VectorType(f32, ylanes)
            cp = ir_build.array_ptr(context, builder, cty, c_v)
            ap = ir_build.array_ptr(context, builder, aty, a_v)
            tarr = context.make_array(tty)(context, builder, taps_v)
            bp = ir_build.array_ptr(context, builder, bty, b_v)
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]), "llvm.fma.v8f32")
            a0 = builder.gep(ap, [builder.sext(a_off_v, i64)])
            b0 = builder.gep(bp, [builder.sext(b_off_v, i64)])
            lda64 = builder.sext(lda_v, i64)
            zero = ir.Constant(vec, None)
            ntap = builder.extract_value(tarr.shape, 0)
            for r0, rows, v0, vecs in blocks:
                accs = [[cgutils.alloca_once_value(builder, zero) for _ in range(vecs)] for _ in range(rows)]
                bcur = cgutils.alloca_once_value(builder, builder.gep(b0, [ir.Constant(i64, v0 * ylanes)]))
                with cgutils.for_range(builder, ntap) as tl:
                    arow = builder.gep(a0, [builder.load(builder.gep(tarr.data, [tl.index]))])
                    with cgutils.for_range(builder, builder.sext(k_v, i64)) as kl:
                        bb = builder.load(bcur)
                        bvec = [builder.load(builder.bitcast(builder.gep(bb, [ir.Constant(i64, ylanes * j)]), vec.as_pointer()),
                                             align=1) for j in range(vecs)]
                        for i in range(rows):
                            ptr = builder.gep(arow, [builder.add(builder.mul(lda64, ir.Constant(i64, r0 + i)), kl.index)])
                            splat = ir_build.splat(builder, builder.load(ptr, align=1), vec)
                            for j in range(vecs):
                                builder.store(builder.call(fn, [splat, bvec[j], builder.load(accs[i][j])]), accs[i][j])
                        builder.store(builder.gep(bb, [ir.Constant(i64, nr)]), bcur)
                for i in range(rows):
                    for j in range(vecs):
                        dst = builder.gep(cp, [ir.Constant(i64, (r0 + i) * nr + (v0 + j) * ylanes)])
                        builder.store(builder.load(accs[i][j]), builder.bitcast(dst, vec.as_pointer()), align=1)
            return context.get_dummy_value()

        return sig, codegen

    return tile


_TILES = {}


def tile_kernel(kind: str, mr: int, nv: int):
    """The (``kind``, MR rows, NV zmm-wide column blocks) micro-kernel: VNNI/FMA intrinsic (f32 on AVX2 without
    AVX-512: ymm sub-blocks, :func:`_make_ymm_f32`; on aarch64: :mod:`.tiles_arm`), else plain loops.

    Call signature inside ``@njit`` code (all arrays 1-D, offsets in elements):
    ``tile(c, a, a_off, lda, taps, k_len, b, b_off)`` overwrites ``c[:MR*NR]`` (row-major MR x NR).
    """
    key = (kind, mr, nv)
    if key not in _TILES:
        if _ARM:
            from .cpu_features import arm_int8_kind
            from .tiles_arm import make_tile

            arm = {"u8s8": arm_int8_kind(), "s8s8": "sdot_s8"}.get(kind, kind)  # s8s8: aarch64 dotprod only
            _TILES[key] = make_tile(arm, mr, nv, LANES)
        else:
            fast = HAS_VNNI if kind == "u8s8" else HAS_VEC
            if kind == "f32" and YMM_F32:
                _TILES[key] = _make_ymm_f32(mr, nv)
            else:
                _TILES[key] = _make_intrinsic(kind, mr, nv) if fast else _make_fallback(kind, mr, nv)
    return _TILES[key]


def _make_fma32():
    from llvmlite import ir

    @intrinsic
    def fma32(typingctx, a, b, c):
        sig = types.float32(types.float32, types.float32, types.float32)

        def codegen(context, builder, signature, args):
            f32 = ir.FloatType()
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(f32, [f32, f32, f32]), "llvm.fma.f32")
            return builder.call(fn, list(args))

        return sig, codegen

    return fma32


#: ``fma32(a, b, c)`` = a * b + c rounded once (``llvm.fma.f32``; float32 arguments) inside ``@njit``
#: code: the f32 tile's arithmetic, so a loop written with it reproduces the tile bit for bit, and
#: LLVM vectorises it. Keep other float arithmetic out of the chain's expression: under fastmath the
#: backend may fold a following add into the chain (see ``conv._conv3x3_c1``). Without FMA hardware
#: LLVM calls libm's fma (exact, slow).
fma32 = _make_fma32()


def _make_prefetch():
    from llvmlite import ir

    @intrinsic
    def prefetch(typingctx, a, off):
        sig = types.void(a, off)

        def codegen(context, builder, signature, args):
            a_v, off_v = args
            ptr = builder.gep(ir_build.array_ptr(context, builder, signature.args[0], a_v), [builder.sext(off_v, ir.IntType(64))])
            i8p = ir.IntType(8).as_pointer()
            i32 = ir.IntType(32)
            name = "llvm.prefetch." + ir_pointer_suffix("i8")
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), name)
            # read, locality 3 (keep in all cache levels), data cache
            builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
            return context.get_dummy_value()

        return sig, codegen

    return prefetch


#: ``prefetch(a, off)``: a hint to load the cache line holding ``a[off]`` (1-D array; no effect on
#: results; an address past the end is harmless, prefetches never fault).
prefetch = _make_prefetch()
