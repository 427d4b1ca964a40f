"""kernels.conv._copy_nhwc (the NCHW -> NHWC copy before FP32 Winograd and direct convs, 8 x 8 blocks transposed in
registers by kernels/transpose_ir.py) equals NumPy's transpose into the padded buffer, bit for bit, on any shape:
channel and width remainders, padding, batches, and the 3-channel image path."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycrnn.kernels.conv import _copy_nhwc


@settings(deadline=None, max_examples=60)
@given(n=st.integers(1, 2), c=st.integers(1, 40), h=st.integers(1, 6), w=st.integers(1, 37), ph=st.integers(0, 2),
       pw=st.integers(0, 2), extra=st.integers(0, 9), seed=st.integers(0, 2**16))
def test_copy_nhwc_equals_numpy(n, c, h, w, ph, pw, extra, seed):
    x = np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(np.float32)
    got = np.zeros((n, h + 2 * ph, w + 2 * pw + extra, c), np.float32)
    _copy_nhwc(x, ph, pw, got)
    want = np.zeros_like(got)
    want[:, ph : ph + h, pw : pw + w] = x.transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(got, want)


def test_copy_nhwc_on_a_plane_of_a_multiple_of_4kb():
    """96 x 352 x 256: every channel plane is 88 x 4 KB (the shape that was 4x slower before the blocks)."""
    x = np.random.default_rng(1).standard_normal((1, 96, 352, 256)).astype(np.float32)
    got = np.empty((1, 352, 256, 96), np.float32)
    _copy_nhwc(x, 0, 0, got)
    np.testing.assert_array_equal(got, x.transpose(0, 2, 3, 1))
