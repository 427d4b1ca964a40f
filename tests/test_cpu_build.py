"""benchmarks/cpu_build.py, the stand-in builds of RESULTS.md and .ci/run: what each sets, that the command it
runs keeps the caller's thread settings, and that the tests' Haswell settings are its haswell build's.

Everything runs in child processes from the checkout: importing ``benchmarks`` here would put the checkout on this
process's path, and the batch tests' worker processes (which inherit it) would then import the checkout's
tinycrnn instead of the installed one."""
import json
import os
import subprocess
import sys

import pytest

from conftest import AVX2_CPU, ROOT

if not os.path.isfile(os.path.join(ROOT, "benchmarks", "cpu_build.py")):
    pytest.skip("no benchmarks/ beside the tests (not a source checkout)", allow_module_level=True)

SHOW = "import os; print(*(os.environ.get(k, '-') for k in ('NUMBA_CPU_NAME', 'OPENBLAS_CORETYPE', 'NUMBA_CACHE_DIR', " \
       "'OPENBLAS_NUM_THREADS')))"


def _env():
    return {k: v for k, v in os.environ.items() if not k.endswith("_THREADS")}


def _query(expr: str):
    """``expr`` evaluated after ``from benchmarks.cpu_build import *`` in a child, as JSON."""
    code = f"import json; from benchmarks.cpu_build import *; print(json.dumps({expr}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout)


def _run(*args, **env):
    return subprocess.run([sys.executable, "-m", "benchmarks.cpu_build", *args], cwd=ROOT, env=dict(_env(), **env),
                          capture_output=True, text=True, timeout=120)


def test_the_tests_haswell_settings_are_the_haswell_build():
    env = _query("build_env('haswell', '/x', env={})")
    assert {k: env[k] for k in AVX2_CPU} == AVX2_CPU


def test_every_build_holds_openblas_to_avx2_kernels_and_caches_apart():
    envs = _query("{b: build_env(b, env={}) for b in BUILDS}")
    assert len({e["NUMBA_CACHE_DIR"] for e in envs.values()}) == len(envs)
    assert {e["OPENBLAS_CORETYPE"] for e in envs.values()} == {"Haswell"}
    assert "+avxvnni" in envs["alderlake"]["NUMBA_CPU_FEATURES"]
    assert not any("avx512" in e["NUMBA_CPU_FEATURES"] for e in envs.values())


def test_the_command_runs_with_the_build_and_the_callers_threads(tmp_path):
    if _query("missing_features('haswell')"):
        pytest.skip("this CPU cannot run the haswell build")
    out = _run("haswell", "--cache", str(tmp_path), "--", sys.executable, "-c", SHOW)
    assert out.returncode == 0, out.stderr
    # benchmarks/__init__ pins threads to 1 in cpu_build's own process only: the command decides for itself
    assert out.stdout.split() == ["haswell", "Haswell", str(tmp_path), "-"]
    assert "haswell build" in out.stderr
    out = _run("haswell", "--", sys.executable, "-c", SHOW, OPENBLAS_NUM_THREADS="2")
    assert out.stdout.split()[-1] == "2"


def test_a_build_this_cpu_cannot_run_is_refused_and_no_command_is_an_error():
    lacking = _query("[b for b in BUILDS if missing_features(b)]")
    if lacking:
        out = _run(lacking[0], "--", sys.executable, "-c", "print('ran')")
        assert out.returncode != 0 and "ran" not in out.stdout and "this CPU lacks" in out.stderr
    out = _run("haswell")
    assert out.returncode != 0 and "no command given" in out.stderr
