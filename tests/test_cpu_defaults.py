"""Defaults follow the CPU: int8 models only where the int8 kernels have a fast path (AVX-512 VNNI, or
AVX2 with the tiles of kernels.int8_avx2 and the exact int8 Winograd convs of kernels.int8_winograd) on a core
that issues the vector integer multiply-add on two pipes.

Without AVX2 the int8 tiles are portable loops, ~10-18x slower than the FP32 model on the same CPU; on a
Haswell-class core (one integer multiply pipe) the AVX2 tiles run int8 multiply-adds at FP32's rate. In both
cases the page pipeline and its case model fall back to FP32 files and loading an int8 model warns, saying
which. The other CPUs are simulated by compiling for them, in a child process: Skylake and Haswell (AVX2 + FMA,
no AVX-512) and Nehalem (SSE4.2: no AVX at all)."""
import os

import pytest

from conftest import AVX2_CPU, run_python
from tinycrnn.kernels.cpu_features import one_int_multiply_pipe
from tinycrnn.page.defaults import CASE_MODELS, DEFAULT_MODELS, fast_models


def test_fast_models_drops_int8_only_where_int8_is_slow():
    assert fast_models(DEFAULT_MODELS, int8_fast=True) == list(DEFAULT_MODELS)
    assert fast_models(DEFAULT_MODELS, int8_fast=False) == ["ppocrv2_zh", "english_g2"]
    assert fast_models(CASE_MODELS, int8_fast=False) == ["english_g2"]
    assert fast_models(["english_g2-int8", "ppocrv2_zh_int8"], backend="numpy") == []  # the NumPy twins are slow too


CHILD = """
import warnings, tinycrnn
from tinycrnn.kernels import get_kernels, int8_is_fast, microkernel
assert not microkernel.HAS_AVX512 and not microkernel.HAS_VNNI
ocr = tinycrnn.OCR()
print(ocr.model_name, ocr.case_model.rsplit("/", 1)[-1], int8_is_fast(),
      get_kernels("numba").conv2d_int8.__module__)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    tinycrnn.load_model("english_g2-int8")
    tinycrnn.load_model("english_g2")
print(len(caught), caught[0].message if caught else "")
"""

#: An x86-64 CPU without AVX (Nehalem): no vector FP32 tiles, int8 on the portable loops.
SSE_CPU = {"NUMBA_CPU_NAME": "nehalem",
           "NUMBA_CPU_FEATURES": "+64bit,+cmov,+cx16,+mmx,+popcnt,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3"}


@pytest.mark.parametrize("name, one_pipe", [("haswell", True), ("Broadwell", True), ("core-avx2", True),
                                             ("znver1", True), ("znver2", True), ("znver3", False), ("znver4", False),
                                             ("skylake", False), ("icelake-server", False), ("alderlake", False)])
def test_the_cores_with_one_vector_integer_multiply_pipe(name, one_pipe):
    assert one_int_multiply_pipe(name) is one_pipe


#: An AVX2 + FMA core with two vector integer multiply pipes and no AVX-512 (Skylake client).
SKYLAKE = dict(AVX2_CPU, NUMBA_CPU_NAME="skylake")


def test_an_avx2_cpu_with_two_multiply_pipes_gets_int8_defaults_on_the_avx2_tiles(tmp_path):
    out = run_python("-c", CHILD, env=dict(os.environ, **SKYLAKE, NUMBA_CACHE_DIR=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    models, warned = out.stdout.splitlines()[-2:]
    assert models == "ppocrv2_zh_int8 english_g2_int8.tcrnn True tinycrnn.kernels.int8_avx2"
    assert warned == "0 "


def test_a_haswell_core_keeps_the_avx2_int8_tiles_but_gets_fp32_defaults_and_a_warning(tmp_path):
    out = run_python("-c", CHILD, env=dict(os.environ, **AVX2_CPU, NUMBA_CACHE_DIR=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    models, warned = out.stdout.splitlines()[-2:]
    assert models == "ppocrv2_zh english_g2.tcrnn False tinycrnn.kernels.int8_avx2"
    assert warned.startswith("1 english_g2_int8: int8 model on a haswell core, which issues AVX2's int8 multiply-add "
                             "on one pipe")


def test_a_cpu_without_avx2_gets_fp32_defaults_and_a_warning(tmp_path):
    out = run_python("-c", CHILD, env=dict(os.environ, **SSE_CPU, NUMBA_CACHE_DIR=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    models, warned = out.stdout.splitlines()[-2:]
    assert models == "ppocrv2_zh english_g2.tcrnn False tinycrnn.kernels.int8"
    assert warned.startswith("1 english_g2_int8: int8 model on a CPU without AVX2 or AVX-512 VNNI")


def test_the_one_pipe_list_agrees_with_llvms_scheduling_models():
    """benchmarks/mca_rates.py: llvm-mca's int16 multiply-add rate equals FP32's exactly on the listed cores."""
    import shutil
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isfile(os.path.join(root, "benchmarks", "mca_rates.py")):
        pytest.skip("no benchmarks/ beside the tests (not a source checkout)")
    if not (shutil.which("llvm-mca") or shutil.which("llvm-mca-14")):
        pytest.skip("llvm-mca not installed (Debian: apt-get install llvm)")
    out = subprocess.run([sys.executable, "-m", "benchmarks.mca_rates"], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "haswell" in out.stdout and "listed" in out.stdout
