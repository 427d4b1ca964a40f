"""An 8 x 8 float32 block transpose as vector IR, for the NCHW -> NHWC copy before FP32 Winograd convs.

# dst[d_off + j*d_stride + i] = src[s_off + i*s_stride + j],  i, j < 8

Why: copying one pixel's C channels at a time reads C rows at once, and when a channel plane is a multiple of
4 KB (a 352 x 256 map: common, since DB inputs are multiples of 32 pixels) all C rows fall into one L1 set:
4.4 ns per element there against 0.9 ns otherwise (96 channels, Zen 3). Eight rows of eight floats, transposed
in registers (three rounds of two-input shuffles: unpack, pair, halves) and stored as eight runs of eight
channels, read each source line whole. Plain shufflevector IR: AVX2 gets vunpcklps/vshufps/vperm2f128, NEON
zip/uzp/ext pairs, and a CPU without vectors scalar moves; a copy, so bit-exact everywhere.
"""
from numba import types
from numba.extending import intrinsic

from .ir_build import array_ptr, int64_args, row_ptr

_UNPACK = ([0, 8, 1, 9, 4, 12, 5, 13], [2, 10, 3, 11, 6, 14, 7, 15])
_PAIRS = ([0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15])
_HALVES = ([0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15])


@intrinsic
def transpose8x8(typingctx, src, s_off, s_stride, dst, d_off, d_stride):
    """Inside ``@njit`` code (1-D float32 ``src`` and ``dst``, offsets and strides in elements): the module's formula."""
    sig = types.void(src, s_off, s_stride, dst, d_off, d_stride)

    def codegen(context, builder, signature, args):
        from llvmlite import ir

        sa = signature.args
        src_v, s_off_v, s_st_v, dst_v, d_off_v, d_st_v = int64_args(context, builder, args, sa)
        i32 = ir.IntType(32)
        vec = ir.VectorType(ir.FloatType(), 8)
        sp, dp = array_ptr(context, builder, sa[0], src_v), array_ptr(context, builder, sa[3], dst_v)

        def shuffle(a, b, mask):
            return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(i32, 8), mask))

        def at(ptr, off, stride, k):
            return row_ptr(builder, ptr, off, stride, k, vec)

        r = [builder.load(at(sp, s_off_v, s_st_v, i), align=4) for i in range(8)]
        t = [shuffle(r[2 * p], r[2 * p + 1], _UNPACK[h]) for p in range(4) for h in (0, 1)]  # t[2p + h]
        u = [None] * 8
        for q in (0, 1):  # rows 0-3 from t[0..3], rows 4-7 from t[4..7]
            for h in (0, 1):
                for m in (0, 1):
                    u[4 * q + 2 * h + m] = shuffle(t[4 * q + h], t[4 * q + 2 + h], _PAIRS[m])
        for j in range(8):
            lo, k = j % 4, j // 4
            builder.store(shuffle(u[lo], u[4 + lo], _HALVES[k]), at(dp, d_off_v, d_st_v, j), align=4)
        return context.get_dummy_value()

    return sig, codegen
