"""Hypothesis strategies shared by the kernel tests."""
import numpy as np
from hypothesis import strategies as st


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    depthwise = draw(st.booleans()) and groups == 1
    cg = draw(st.integers(1, 4))
    c = cg * groups
    o = groups * draw(st.integers(1, 5))
    if depthwise:
        c = o = groups = draw(st.integers(1, 6))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))
    h = draw(st.integers(max(1, kh - 2 * ph), 12))
    w = draw(st.integers(max(1, kw - 2 * pw), 20))
    n = draw(st.integers(1, 3))
    act = draw(st.sampled_from(["none", "relu", "hardswish", "hardsigmoid"]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    weight = rng.standard_normal((o, c // groups, kh, kw)).astype(np.float32)
    bias = rng.standard_normal(o).astype(np.float32) if draw(st.booleans()) else None
    return x, weight, bias, (sh, sw), (ph, pw), groups, act


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h, w = draw(st.integers(kh, 12)), draw(st.integers(kw, 16))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    return rng.standard_normal((n, c, h, w)).astype(np.float32), (kh, kw), (sh, sw), (ph, pw)


@st.composite
def lstm_cases(draw):
    n, t, i, h = draw(st.integers(1, 3)), draw(st.integers(1, 12)), draw(st.integers(1, 10)), draw(st.integers(1, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))

    def direction():
        return (
            (rng.standard_normal((4 * h, i)) * 0.5).astype(np.float32),
            (rng.standard_normal((4 * h, h)) * 0.5).astype(np.float32),
            (rng.standard_normal(4 * h) * 0.5).astype(np.float32),
        )

    return rng.standard_normal((n, t, i)).astype(np.float32), direction(), direction()
