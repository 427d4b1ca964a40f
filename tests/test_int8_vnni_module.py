"""The AVX-512 VNNI int8 module (tinycrnn.kernels.int8) on any CPU: its drivers, packing and corrections run on the
plain-loop tiles where the CPU lacks AVX-512 VNNI, and must stay bit-exact against the NumPy integer twins.

On AVX-512 VNNI CPUs the numba namespace already runs this module (tests/test_kernels.py); elsewhere the numba
namespace runs another one (int8_avx2 on AVX2), so these tests are what checks that the shared drivers still compute
what the AVX-512 path computed."""
import os

import numpy as np
from conftest import AVX2_CPU, run_python
from hypothesis import given
from hypothesis import strategies as st
from strategies import int8_conv_cases, int8_linear_cases, int8_lstm_cases

from tinycrnn.kernels import get_kernels
from tinycrnn.kernels import int8 as K

REF = get_kernels("numpy")


@given(int8_linear_cases(), st.sampled_from(["none", "relu"]))
def test_linear_matches_reference_exactly(case, act):
    x, w_q, w_scale, bias = case
    got = K.linear_int8(x, K.pack_linear_int8(w_q, w_scale), bias, act)
    np.testing.assert_array_equal(got, REF.linear_int8(x, REF.pack_linear_int8(w_q, w_scale), bias, act))


@given(int8_lstm_cases())
def test_bilstm_matches_reference_exactly(case):
    x, fwd, bwd = case
    got = K.bilstm_int8(x, K.pack_lstm_int8(*fwd), K.pack_lstm_int8(*bwd))
    np.testing.assert_array_equal(got, REF.bilstm_int8(x, REF.pack_lstm_int8(*fwd), REF.pack_lstm_int8(*bwd)))


@given(int8_conv_cases(), st.sampled_from(["none", "relu"]))
def test_conv_float_output_matches_reference_exactly(case, act):
    x_q, w_q, stride, pad = case
    rng = np.random.default_rng(x_q.size)
    x = (x_q.astype(np.float32) * np.float32(0.05)).astype(np.float32)
    w_scale = (rng.random(w_q.shape[0]) * 0.01).astype(np.float32)
    bias = rng.standard_normal(w_q.shape[0]).astype(np.float32)
    got = K.conv2d_int8(x, K.pack_conv_int8(w_q), w_scale, bias, stride, pad, act)
    np.testing.assert_array_equal(got, REF.conv2d_int8(x, REF.pack_conv_int8(w_q), w_scale, bias, stride, pad, act))


@given(st.integers(1, 3), st.integers(1, 41), st.integers(1, 40), st.integers(1, 70), st.booleans(),
       st.integers(0, 2**31 - 1))
def test_pointwise_integer_products_exact_both_epilogues(n, c, o, p, fast, seed):
    from tinycrnn.quant import quantize_rows

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, 1, p)).astype(np.float32)
    w_q, w_scale = quantize_rows(rng.standard_normal((o, c, 1, 1)).astype(np.float32))
    b = rng.standard_normal(o).astype(np.float32)
    got = K.pointwise_int8(x, K.pack_pointwise_int8(w_q, w_scale), b, "relu", fast=fast)
    np.testing.assert_array_equal(got, REF.pointwise_int8(x, REF.pack_pointwise_int8(w_q, w_scale), b, "relu"))


#: Compiles (never runs: this CPU may lack AVX-512) the shared recurrence and the linear GEMM for an AVX-512 VNNI
#: target and counts the zmm vpdpbusd they are made of.
VNNI_CHILD = """
import re, numpy as np, numba
from tinycrnn.kernels import int8 as K, microkernel
x = np.zeros((1, 3, 4), np.float32)
fwd = K.pack_lstm_int8(np.ones((8, 4), np.int8), np.ones(8, np.float32), np.ones((8, 2), np.int8), np.ones(8, np.float32),
                       np.zeros(8, np.float32))
ih, whh, corr, hs, b, off = fwd
args = (np.zeros((1, 3, 8), np.float32), whh, corr, hs, off, False, np.zeros((1, 3, 2), np.float32),
        np.zeros((1, 4), np.uint8), np.zeros((1, 8), np.float32), np.zeros((1, 2), np.float32), np.zeros(32, np.int32))
sig = tuple(numba.typeof(v) for v in args)
K._lstm_rec.compile(sig)
asm = K._lstm_rec.inspect_asm(sig)
print(microkernel.HAS_VNNI, len(re.findall(r"vpdpbusd\\s+\\S*%zmm", asm)))
"""

AVX512_VNNI_CPU = {"NUMBA_CPU_NAME": "icelake-server",
                   "NUMBA_CPU_FEATURES": AVX2_CPU["NUMBA_CPU_FEATURES"]
                   + ",+avx512f,+avx512bw,+avx512dq,+avx512vl,+avx512cd,+avx512vnni"}


def test_shared_recurrence_compiles_to_zmm_vpdpbusd_for_avx512_vnni(tmp_path):
    out = run_python("-c", VNNI_CHILD, env=dict(os.environ, **AVX512_VNNI_CPU, NUMBA_CACHE_DIR=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    has_vnni, n = out.stdout.split("\n")[-2].split()
    assert has_vnni == "True" and int(n) >= 1  # the 1-row tile: 2 zmm vpdpbusd per k step (LLVM may unroll)
