"""The AVX2 / AVX-VNNI int8 kernels (tinycrnn.kernels.int8_avx2): bit-exact against the NumPy integer
twins in both layouts on any CPU, and the instructions they compile to.

Both layouts run here whatever the CPU: a tile whose instructions the CPU lacks (AVX-VNNI on most
machines, everything off x86) is the plain-loop twin, so the packing, offsets and corrections of each
layout are always checked. The vpdpbusd tile itself can only be compiled here (for an Alder Lake
target, in a child process), not run, unless the CPU has AVX-VNNI."""
import os

import numpy as np
import pytest
from conftest import AVX2_CPU, run_python
from hypothesis import given
from hypothesis import strategies as st
from strategies import int8_conv_cases, int8_linear_cases, int8_lstm_cases

from tinycrnn.kernels import get_kernels
from tinycrnn.kernels import int8_avx2 as K

REF = get_kernels("numpy")
LAYOUTS = st.sampled_from(["avx2", "avxvnni"])


@given(int8_conv_cases(), LAYOUTS)
def test_conv_accumulators_match_reference_exactly(case, layout):
    from tinycrnn.kernels.ref import conv2d_int8_acc_ref

    x_q, w_q, stride, pad = case
    got = K.conv2d_int8_acc(x_q, K.pack_conv_int8(w_q, layout), stride, pad)
    want = conv2d_int8_acc_ref(x_q, w_q, stride, pad)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)


@given(int8_conv_cases(), st.sampled_from(["none", "relu"]), LAYOUTS, st.booleans())
def test_conv_float_output_matches_reference_exactly_from_nchw_and_nhwc_memory(case, act, layout, nhwc):
    x_q, w_q, stride, pad = case
    rng = np.random.default_rng(x_q.size)
    x = (x_q.astype(np.float32) * np.float32(0.05) + rng.uniform(-0.02, 0.02, x_q.shape)).clip(0).astype(np.float32)
    if x.shape[0] > 1:
        x[0] = 0.0  # an all-zero line: zero scale, guarded
    if nhwc:  # what an FP32 Winograd conv or this module's conv hands on
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    w_scale = (rng.random(w_q.shape[0]) * 0.01).astype(np.float32)
    bias = rng.standard_normal(w_q.shape[0]).astype(np.float32)
    got = K.conv2d_int8(x, K.pack_conv_int8(w_q, layout), w_scale, bias, stride, pad, act)
    want = REF.conv2d_int8(x, REF.pack_conv_int8(w_q), w_scale, bias, stride, pad, act)
    np.testing.assert_array_equal(got, want)


@given(int8_linear_cases(), st.sampled_from(["none", "relu"]), LAYOUTS)
def test_linear_matches_reference_exactly(case, act, layout):
    x, w_q, w_scale, bias = case
    got = K.linear_int8(x, K.pack_linear_int8(w_q, w_scale, layout), bias, act)
    want = REF.linear_int8(x, REF.pack_linear_int8(w_q, w_scale), bias, act)
    np.testing.assert_array_equal(got, want)


@given(int8_lstm_cases(), LAYOUTS)
def test_bilstm_matches_reference_exactly(case, layout):
    x, fwd, bwd = case
    got = K.bilstm_int8(x, K.pack_lstm_int8(*fwd, layout=layout), K.pack_lstm_int8(*bwd, layout=layout))
    want = REF.bilstm_int8(x, REF.pack_lstm_int8(*fwd), REF.pack_lstm_int8(*bwd))
    np.testing.assert_array_equal(got, want)


@given(st.integers(1, 3), st.integers(1, 41), st.integers(1, 70), st.integers(1, 40), LAYOUTS,
       st.sampled_from(["none", "relu", "hardswish", "hardsigmoid"]), st.integers(0, 2**31 - 1))
def test_pointwise_integer_products_exact_and_float_epilogue_to_rounding(n, c, o, p, layout, act, seed):
    from tinycrnn.quant import quantize_rows

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, 1, p)).astype(np.float32)
    w_q, w_scale = quantize_rows(rng.standard_normal((o, c, 1, 1)).astype(np.float32))
    b = rng.standard_normal(o).astype(np.float32)
    got = K.pointwise_int8(x, K.pack_pointwise_int8(w_q, w_scale, layout), b, act)
    want = REF.pointwise_int8(x, REF.pack_pointwise_int8(w_q, w_scale), b, act)
    # HardSwish multiplies by 1/6 (the AVX-512 epilogue's IR) where the twin divides by 6: one rounding
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    if act in ("none", "relu"):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("c, o, p", [(5, 7, 16 * K.PB_GROUP * 2 + 5), (64, 20, 16 * K.PB_GROUP + 16)])
def test_pointwise_across_pixel_block_groups_matches_reference_exactly(c, o, p):
    # more pixel blocks than one PB_GROUP (the hypothesis test above stays within one), partial last block
    from tinycrnn.quant import quantize_rows

    rng = np.random.default_rng(c * o + p)
    x = rng.standard_normal((2, c, 1, p)).astype(np.float32)
    x[1, :, :, 3] = 0.0  # an all-zero pixel: zero scale, guarded
    w_q, w_scale = quantize_rows(rng.standard_normal((o, c, 1, 1)).astype(np.float32))
    b = rng.standard_normal(o).astype(np.float32)
    for layout in ("avx2", "avxvnni"):
        got = K.pointwise_int8(x, K.pack_pointwise_int8(w_q, w_scale, layout), b, "relu")
        np.testing.assert_array_equal(got, REF.pointwise_int8(x, REF.pack_pointwise_int8(w_q, w_scale), b, "relu"))


_RUNNERS = {}


#: tile kinds by (a, b) dtypes: int16 pairs, int16 pairs with int8-stored weights (the LSTM recurrence), u8 x s8 quads
KINDS = {"s16": (np.int16, np.int16, 2), "s16b8": (np.int16, np.int8, 2), "u8s8": (np.uint8, np.int8, 4)}


@given(st.sampled_from([1, 2, 4, 6]), st.sampled_from(sorted(KINDS)), st.integers(1, 2), st.integers(1, 20),
       st.integers(0, 2**31 - 1))
def test_tiles_match_numpy(mr, kind, taps_n, k, seed):
    from numba import njit

    from tinycrnn.kernels.tiles_avx2 import NR, tile_kernel

    if mr not in _RUNNERS:
        tile = tile_kernel(mr)
        _RUNNERS[mr] = njit(lambda c, a, lda, taps, k, b: tile(c, a, 0, lda, taps, k, b, 0))
    dt, bdt, e = KINDS[kind]
    rng = np.random.default_rng(seed)
    lda = e * k * taps_n
    a = rng.integers(0, 256, mr * lda).astype(dt)
    b = rng.integers(-128, 128, taps_n * k * NR * e).astype(bdt)
    c = np.zeros(mr * NR, np.int32)
    _RUNNERS[mr](c, a, lda, np.arange(taps_n, dtype=np.int64) * e * k, k, b)
    want = np.einsum("mkr,knr->mn", a.reshape(mr, taps_n * k, e).astype(np.int64), b.reshape(taps_n * k, NR, e).astype(np.int64))
    np.testing.assert_array_equal(c.reshape(mr, NR), want)


#: Compiles (never runs) the tile and the conv kernel for a target and prints what they are made of.
ASM_CHILD = """
import re, numpy as np
from numba import njit, types
from tinycrnn.kernels import int8_avx2 as K, tiles_avx2 as T
tile = T.tile_kernel(6)
f = njit(lambda c, a, b: tile(c, a, 0, 8, np.zeros(1, np.int64), 2, b, 0))
dt = types.uint8 if K.LAYOUT == "avxvnni" else types.int16
bt = types.int8 if K.LAYOUT == "avxvnni" else types.int16
sig = (types.int32[::1], types.Array(dt, 1, "C"), types.Array(bt, 1, "C"))
f.compile(sig)
asm = f.inspect_asm(sig)
sig8 = (types.int32[::1], types.Array(types.int16, 1, "C"), types.Array(types.int8, 1, "C"))
f.compile(sig8)  # int16 pairs on int8-stored weights (the AVX2 LSTM recurrence): widened as they are loaded
asm8 = f.inspect_asm(sig8)
print(K.LAYOUT, T.HAS_AVX2, T.HAS_AVXVNNI, len(re.findall(r"vpmovsxbw\\s+[0-9]*\\(", asm8)))
print(len(re.findall(r"vpdpbusd\\s+%ymm", asm)), len(re.findall(r"vpmaddwd\\s+%ymm", asm)), "zmm" in asm)
"""

ALDERLAKE = {"NUMBA_CPU_NAME": "alderlake",
             "NUMBA_CPU_FEATURES": AVX2_CPU["NUMBA_CPU_FEATURES"] + ",+avxvnni,+gfni,+vaes,+vpclmulqdq,+sha,+adx"}


@pytest.mark.parametrize("target, layout", [(AVX2_CPU, "avx2"), (ALDERLAKE, "avxvnni")])
def test_tiles_compile_to_vpmaddwd_on_avx2_and_vex_vpdpbusd_on_avxvnni(tmp_path, target, layout):
    """The AVX-VNNI tile is only compiled here: this CPU may lack it, and running it would be SIGILL."""
    out = run_python("-c", ASM_CHILD, env=dict(os.environ, **target, NUMBA_CACHE_DIR=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    got_layout, has_avx2, has_vnni, n_sxbw = out.stdout.split("\n")[-3].split()
    n_dpbusd, n_maddwd, zmm = out.stdout.split("\n")[-2].split()
    assert got_layout == layout and has_avx2 == "True"
    assert zmm == "False"  # ymm only: no AVX-512
    assert int(n_sxbw) >= 2  # the int8-stored weights are widened by the load itself
    if layout == "avxvnni":
        assert int(n_dpbusd) >= 12 and int(n_maddwd) == 0  # 6 rows x 2 ymm per k step (LLVM may unroll)
    else:
        assert int(n_maddwd) >= 12 and int(n_dpbusd) == 0
