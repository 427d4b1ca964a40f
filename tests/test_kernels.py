"""Every Numba kernel equals its NumPy reference twin on random shapes, strides and paddings."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from strategies import conv_cases, lstm_cases, pool_cases
from tinycrnn.kernels import get_kernels
from tolerances import KERNEL_ATOL, KERNEL_RTOL, LSTM_ATOL

NB = get_kernels("numba")
REF = get_kernels("numpy")


@given(conv_cases())
def test_conv2d_numba_matches_reference(case):
    x, w, b, stride, pad, groups, act = case
    got = NB.conv2d(x, w, b, stride, pad, groups, act)
    want = REF.conv2d(x, w, b, stride, pad, groups, act)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=KERNEL_RTOL, atol=KERNEL_ATOL)


@given(pool_cases())
def test_maxpool2d_numba_matches_reference_exactly(case):
    x, k, s, p = case
    np.testing.assert_array_equal(NB.maxpool2d(x, k, s, p), REF.maxpool2d(x, k, s, p))


@given(pool_cases())
def test_mean_height_numba_matches_reference(case):
    x = case[0]
    np.testing.assert_allclose(NB.mean_height(x), REF.mean_height(x), rtol=KERNEL_RTOL, atol=KERNEL_ATOL)


@given(lstm_cases())
def test_bilstm_numba_matches_reference(case):
    x, fwd, bwd = case
    got = NB.bilstm(x, NB.pack_lstm(*fwd), NB.pack_lstm(*bwd))
    want = REF.bilstm(x, REF.pack_lstm(*fwd), REF.pack_lstm(*bwd))
    np.testing.assert_allclose(got, want, rtol=0, atol=LSTM_ATOL)


@given(
    st.integers(1, 3), st.integers(1, 9), st.integers(1, 17), st.integers(1, 13),
    st.sampled_from(["none", "relu", "hardswish", "hardsigmoid"]), st.booleans(), st.integers(0, 2**31 - 1),
)
def test_linear_numba_matches_reference(n, t, i, o, act, with_bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, t, i)).astype(np.float32)
    w = rng.standard_normal((o, i)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32) if with_bias else None
    np.testing.assert_allclose(NB.linear(x, w, b, act), REF.linear(x, w, b, act), rtol=KERNEL_RTOL, atol=KERNEL_ATOL)


def test_lstm_reverse_direction_stores_state_at_visited_step():
    # with T=1 both directions see the same single step
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 3)).astype(np.float32)
    d = tuple(a.astype(np.float32) for a in (rng.standard_normal((8, 3)), rng.standard_normal((8, 2)), rng.standard_normal(8)))
    y = REF.bilstm(x, d, d)
    np.testing.assert_allclose(y[..., :2], y[..., 2:])
