"""benchmarks/cpu_build.py, the stand-in builds of RESULTS.md and .ci/run: what each sets, that the command it
runs keeps the caller's thread settings, and that the tests' Haswell settings are its haswell build's."""
import os
import subprocess
import sys

import pytest

from conftest import AVX2_CPU, ROOT

if not os.path.isfile(os.path.join(ROOT, "benchmarks", "cpu_build.py")):
    pytest.skip("no benchmarks/ beside the tests (not a source checkout)", allow_module_level=True)
sys.path.insert(0, ROOT)
from benchmarks.cpu_build import BUILDS, build_env, missing_features  # noqa: E402

SHOW = "import os; print(*(os.environ.get(k, '-') for k in ('NUMBA_CPU_NAME', 'OPENBLAS_CORETYPE', 'NUMBA_CACHE_DIR', " \
       "'OPENBLAS_NUM_THREADS')))"


def _run(*args, **env):
    base = {k: v for k, v in os.environ.items() if not k.endswith("_THREADS")}
    return subprocess.run([sys.executable, "-m", "benchmarks.cpu_build", *args], cwd=ROOT, env=dict(base, **env),
                          capture_output=True, text=True, timeout=120)


def test_the_tests_haswell_settings_are_the_haswell_build():
    env = build_env("haswell", "/x", env={})
    assert {k: env[k] for k in AVX2_CPU} == AVX2_CPU


def test_every_build_holds_openblas_to_avx2_kernels_and_caches_apart():
    dirs = {build_env(b, env={})["NUMBA_CACHE_DIR"] for b in BUILDS}
    assert len(dirs) == len(BUILDS)
    assert {build_env(b, env={})["OPENBLAS_CORETYPE"] for b in BUILDS} == {"Haswell"}
    assert "+avxvnni" in BUILDS["alderlake"][1] and "avx512" not in ",".join(b[1] for b in BUILDS.values())


def test_the_command_runs_with_the_build_and_the_callers_threads(tmp_path):
    if missing_features("haswell"):
        pytest.skip(f"this CPU lacks {missing_features('haswell')}")
    out = _run("haswell", "--cache", str(tmp_path), "--", sys.executable, "-c", SHOW)
    assert out.returncode == 0, out.stderr
    # benchmarks/__init__ pins threads to 1 in cpu_build's own process only: the command decides for itself
    assert out.stdout.split() == ["haswell", "Haswell", str(tmp_path), "-"]
    assert "haswell build" in out.stderr
    out = _run("haswell", "--", sys.executable, "-c", SHOW, OPENBLAS_NUM_THREADS="2")
    assert out.stdout.split()[-1] == "2"


def test_a_build_this_cpu_cannot_run_is_refused_and_no_command_is_an_error():
    lacking = [b for b in BUILDS if missing_features(b)]
    if lacking:
        out = _run(lacking[0], "--", sys.executable, "-c", "print('ran')")
        assert out.returncode != 0 and "ran" not in out.stdout and "this CPU lacks" in out.stderr
    out = _run("haswell")
    assert out.returncode != 0 and "no command given" in out.stderr
