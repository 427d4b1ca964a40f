"""The exact int8 Winograd convs of the AVX2 int16 layout (tinycrnn.kernels.int8_winograd): the same int32
accumulators as the direct conv and the twin, bit for bit, in both variants, at the int32 bound, and the same
float outputs as the direct kernel for every activation. Runs on any CPU (without AVX2 the tile is its
plain-loop twin)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycrnn.kernels import get_kernels
from tinycrnn.kernels import int8_avx2 as K
from tinycrnn.kernels import int8_winograd as W
from tinycrnn.kernels.ref import conv2d_int8_acc_ref

REF = get_kernels("numpy")
ACTS = ["none", "relu", "hardswish", "hardsigmoid"]


@st.composite
def winograd_int8_cases(draw):
    k = draw(st.sampled_from([3, 2]))
    pad = W.VARIANTS[k][1]
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 40)), draw(st.integers(1, 40))
    h, w = draw(st.integers(k - 2 * pad, 11)), draw(st.integers(k - 2 * pad, 23))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x_q = rng.integers(0, 256, (n, c, h, w), dtype=np.uint8)
    w_q = rng.integers(-128, 128, (o, c, k, k), dtype=np.int8)
    return x_q, w_q, (pad, pad)


def _direct(pack):
    return pack[:6] + (None,)  # the same weights without their Winograd form: the direct conv runs


@given(winograd_int8_cases())
def test_accumulators_equal_the_twin_exactly(case):
    x_q, w_q, pad = case
    pack = K.pack_conv_int8(w_q, "avx2")
    assert pack[6] is not None and K._winograd(pack, (1, 1), pad)
    np.testing.assert_array_equal(K.conv2d_int8_acc(x_q, pack, (1, 1), pad), conv2d_int8_acc_ref(x_q, w_q, (1, 1), pad))


@given(winograd_int8_cases(), st.sampled_from(ACTS), st.booleans())
def test_float_outputs_equal_the_direct_kernel_exactly(case, act, nhwc):
    x_q, w_q, pad = case
    rng = np.random.default_rng(x_q.size)
    x = (x_q.astype(np.float32) * np.float32(0.03)).astype(np.float32)
    if nhwc:  # what the previous int8 or Winograd conv hands on
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    w_scale = (rng.random(w_q.shape[0]) * 0.01).astype(np.float32)
    bias = rng.standard_normal(w_q.shape[0]).astype(np.float32)
    pack = K.pack_conv_int8(w_q, "avx2")
    got = K.conv2d_int8(x, pack, w_scale, bias, (1, 1), pad, act)
    np.testing.assert_array_equal(got, K.conv2d_int8(x, _direct(pack), w_scale, bias, (1, 1), pad, act))
    if act in ("none", "relu"):  # the twin divides by 6 in HardSwish where the epilogue multiplies by 1/6
        np.testing.assert_array_equal(got, REF.conv2d_int8(x, REF.pack_conv_int8(w_q), w_scale, bias, (1, 1), pad, act))


@pytest.mark.parametrize("k", [3, 2])
@pytest.mark.parametrize("pattern", ["all_min", "alternating"])
def test_exact_at_the_int32_bound(k, pattern):
    """C = C_MAX channels of the largest inputs and weights: one point's sum reaches 1827 * 1152 * 1020 =
    2,146,798,080 (int32 max 2,147,483,647) and the output transform wraps on the way, yet the result is exact."""
    c, pad = W.C_MAX, W.VARIANTS[k][1]
    x_q = np.full((1, c, 4, 5), 255, np.uint8)
    w_q = np.full((2, c, k, k), -128, np.int8)
    if pattern == "alternating":
        w_q[0, :, ::2] = 127
        x_q[:, :, :, ::2] = 0
    pack = K.pack_conv_int8(w_q, "avx2")
    assert pack[6] is not None
    np.testing.assert_array_equal(K.conv2d_int8_acc(x_q, pack, (1, 1), (pad, pad)),
                                  conv2d_int8_acc_ref(x_q, w_q, (1, 1), (pad, pad)))


def test_runs_only_where_it_is_exact_and_shaped_for():
    assert W.packable((8, W.C_MAX, 3, 3)) and not W.packable((8, W.C_MAX + 1, 3, 3))
    assert not W.packable((8, 16, 1, 1)) and not W.packable((8, 16, 3, 2)) and not W.packable((8, 16, 5, 5))
    assert W.applies((8, 16, 3, 3), (1, 1), (1, 1)) and W.applies((8, 16, 2, 2), (1, 1), (0, 0))
    assert not W.applies((8, 16, 3, 3), (2, 2), (1, 1)) and not W.applies((8, 16, 3, 3), (1, 1), (0, 0))
    w_q = np.ones((4, 8, 3, 3), np.int8)
    assert K.pack_conv_int8(w_q, "avxvnni")[6] is None  # uint8 x int8 quads: transformed values need 16 bits
    assert not K._winograd(K.pack_conv_int8(w_q, "avx2"), (2, 2), (1, 1))  # stride 2: the direct conv
