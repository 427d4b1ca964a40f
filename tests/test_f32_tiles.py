"""The FP32 register tiles: the AVX2 ymm sub-block tile (kernels/microkernel.py ``_make_ymm_f32``) against NumPy and,
bit for bit, against the AVX-512-shaped 16-lane tile (same fma chain per output, in the same order), on random tile
heights, column blocks, taps and k; which tile each CPU class compiles (child processes, compiled never run)."""
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import AVX2_CPU, run_python
from tinycrnn.kernels import microkernel as mk
from tolerances import KERNEL_ATOL, KERNEL_RTOL

X86_VEC = mk.HAS_VEC and not mk._ARM
_RUNNERS = {}


def _runner(make, mr, nv):
    from numba import njit

    key = (make.__name__, mr, nv)
    if key not in _RUNNERS:
        tile = make(mr, nv)
        _RUNNERS[key] = njit(lambda c, a, a_off, lda, taps, k, b, b_off: tile(c, a, a_off, lda, taps, k, b, b_off))
    return _RUNNERS[key]


@given(st.integers(1, 8), st.integers(1, 2), st.integers(1, 3), st.integers(1, 24), st.integers(0, 3),
       st.integers(0, 2**31 - 1))
def test_ymm_tile_matches_numpy_and_the_zmm_tile_bit_for_bit(mr, nv, taps_n, k, off, seed):
    # every height 1..8 (the remainders 1..5 of a 6-row tile, the LSTM's 1/2/4/8-row tiles), 16 or 32 columns,
    # offsets into a and b (the kernels call the tile at arbitrary element offsets)
    rng = np.random.default_rng(seed)
    nr = nv * mk.LANES
    lda = k * taps_n + off  # rows of a are spaced wider than one row's taps
    a = rng.standard_normal(off + mr * lda + 3).astype(np.float32)
    b = rng.standard_normal(off + taps_n * k * nr).astype(np.float32)
    taps = np.arange(taps_n, dtype=np.int64) * k
    rows = np.stack([a[off + i * lda : off + i * lda + taps_n * k] for i in range(mr)])
    want = rows.astype(np.float64) @ b[off:].reshape(taps_n * k, nr).astype(np.float64)
    c = np.full(mr * nr, np.nan, np.float32)
    _runner(mk._make_ymm_f32, mr, nv)(c, a, off, lda, taps, k, b, off)
    np.testing.assert_allclose(c.reshape(mr, nr), want, rtol=KERNEL_RTOL, atol=KERNEL_ATOL)
    if X86_VEC:  # the 16-lane IR runs split into ymm halves on AVX2: same arithmetic, so identical bits
        z = np.full(mr * nr, np.nan, np.float32)
        _runner(lambda m, n: mk._make_intrinsic("f32", m, n), mr, nv)(z, a, off, lda, taps, k, b, off)
        np.testing.assert_array_equal(c, z)
    prod = np.full(mr * nr, np.nan, np.float32)
    _runner(lambda m, n: mk.tile_kernel("f32", m, n), mr, nv)(prod, a, off, lda, taps, k, b, off)
    np.testing.assert_allclose(prod, c, rtol=KERNEL_RTOL, atol=KERNEL_ATOL)


@pytest.mark.parametrize("mr", range(1, 9))
@pytest.mark.parametrize("nvec", [2, 4, 6])
def test_ymm_blocks_cover_the_tile_once_within_16_registers(mr, nvec):
    seen = np.zeros((mr, nvec), int)
    for r0, rows, v0, vecs in mk._ymm_blocks(mr, nvec):
        assert rows * vecs <= 12 and rows * vecs + vecs + 1 <= 16
        seen[r0 : r0 + rows, v0 : v0 + vecs] += 1
    assert (seen == 1).all()


#: Compiles (never runs) the production f32 tile for a target and prints the choice and its instructions.
ASM_CHILD = """
import re, numpy as np
from numba import njit, types
from tinycrnn.kernels import conv, microkernel as mk, winograd
tile = mk.tile_kernel("f32", conv.MR, 2)
f = njit(lambda c, a, b, k: tile(c, a, 0, k, np.zeros(1, np.int64), k, b, 0))
sig = (types.float32[::1], types.float32[::1], types.float32[::1], types.int64)
f.compile(sig)
asm = f.inspect_asm(sig).split(".size")[0]  # the tile's function only, not the Python wrapper
print(mk.YMM_F32, conv.MR, winograd.MR)
print(len(re.findall(r"vfmadd\\w+\\s+[^\\n]*%ymm", asm)), len(re.findall(r"vfmadd\\w+\\s+[^\\n]*%zmm", asm)),
      len(re.findall(r"vmov\\w+\\s+%[yz]mm\\d+, -?\\d*\\(%rsp\\)", asm)))
"""
SKYLAKE_X = {"NUMBA_CPU_NAME": "skylake-avx512",
             "NUMBA_CPU_FEATURES": AVX2_CPU["NUMBA_CPU_FEATURES"] + ",+avx512f,+avx512bw,+avx512cd,+avx512dq,+avx512vl"}


@pytest.mark.skipif(mk._ARM, reason="x86 targets only")
@pytest.mark.parametrize("target, ymm", [(AVX2_CPU, True), (SKYLAKE_X, False)])
def test_avx2_compiles_the_ymm_tile_and_avx512_keeps_the_zmm_tile(tmp_path, target, ymm):
    out = run_python("-c", ASM_CHILD, env=dict(os.environ, **target, NUMBA_CACHE_DIR=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().split("\n")
    choice, mr, wmr = lines[-2].split()
    n_ymm, n_zmm, spills = (int(v) for v in lines[-1].split())
    if ymm:  # 6 rows x 32 columns as two 6 x 16 passes: 12 ymm FMAs per k step, no zmm, no register spills
        assert (choice, mr, wmr) == ("True", "6", "6")
        assert n_ymm >= 12 and n_zmm == 0 and spills == 0
    else:  # unchanged: 8 x 2 zmm accumulators
        assert (choice, mr, wmr) == ("False", "8", "8")
        assert n_zmm >= 16 and spills == 0


def test_the_spill_check_sees_spills(tmp_path):
    """The 16-lane tile compiled for Haswell spills (32 ymm accumulators): the asm pattern above detects it."""
    if mk._ARM:
        pytest.skip("x86 targets only")
    child = ASM_CHILD.replace('mk.tile_kernel("f32", conv.MR, 2)', 'mk._make_intrinsic("f32", 8, 2)')
    out = run_python("-c", child, env=dict(os.environ, **AVX2_CPU, NUMBA_CACHE_DIR=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip().split("\n")[-1].split()[2]) > 0
