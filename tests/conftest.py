"""Shared fixtures, the Hypothesis profile (max_examples from TINYCRNN_MAX_EXAMPLES), and the one way
tests start tinycrnn in a child process (:func:`run_python`, :func:`run_tinycrnn`)."""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "tinycrnn",
    max_examples=int(os.environ.get("TINYCRNN_MAX_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("tinycrnn")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
REF = os.path.join(DATA, "english_g2")
SAMPLES = os.path.join(ROOT, "samples")
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
#: Numba settings that compile for an AVX2 + FMA CPU without AVX-512 (Haswell), to test the paths such
#: CPUs take on this machine (``.ci/run`` runs the kernel and parity tests this way too, through
#: ``benchmarks/cpu_build.py``'s haswell build); OpenBLAS is held to its Haswell kernels as well.
AVX2_CPU = {"NUMBA_CPU_NAME": "haswell",
            "NUMBA_CPU_FEATURES": "+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+f16c,+fma,+fsgsbase,+lzcnt,+mmx,"
                                  "+movbe,+popcnt,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,+xsave",
            "OPENBLAS_CORETYPE": "Haswell"}


@pytest.fixture(scope="session")
def ref_cases():
    with open(os.path.join(REF, "cases.json"), encoding="utf-8") as f:
        cases = json.load(f)
    # NOTE: TINYCRNN_PARITY_CASES=N keeps the first N cases (the emulated aarch64 pass, .ci/arm64.sh: ~7 s a line)
    if os.environ.get("TINYCRNN_PARITY_CASES"):
        cases["cases"] = cases["cases"][: int(os.environ["TINYCRNN_PARITY_CASES"])]
    return cases


@pytest.fixture(scope="session", params=["numpy", "numba"])
def english_g2(request):
    import tinycrnn

    return tinycrnn.load_model("english_g2", backend=request.param)

#: The working folder of every child process: empty, so ``python -m tinycrnn`` and ``python -c`` import
#: the installed tinycrnn. From ROOT they would import the checkout's ``tinycrnn/`` instead, and CI runs
#: this suite against a wheel installed in a fresh venv.
NEUTRAL_CWD = tempfile.mkdtemp(prefix="tinycrnn-tests-cwd-")
atexit.register(shutil.rmtree, NEUTRAL_CWD, ignore_errors=True)


def child_env(env=None):
    """``env`` (default ``os.environ``) without PYTHONPATH entries naming the checkout."""
    env = dict(os.environ if env is None else env)
    root = os.path.realpath(ROOT)
    keep = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.realpath(p) != root]
    if keep:
        env["PYTHONPATH"] = os.pathsep.join(keep)
    else:
        env.pop("PYTHONPATH", None)
    return env


def run_python(*args, env=None, timeout=300, **kw):
    """``python *args`` (this interpreter) from :data:`NEUTRAL_CWD` with :func:`child_env`, output captured as text."""
    return subprocess.run([sys.executable, *args], cwd=NEUTRAL_CWD, env=child_env(env), capture_output=True,
                          text=True, timeout=timeout, **kw)


def run_tinycrnn(*args, **kw):
    """The ``tinycrnn`` command (``python -m tinycrnn *args``) of the installed package; see :func:`run_python`."""
    return run_python("-m", "tinycrnn", *args, **kw)


def pytest_report_header(config):
    import tinycrnn

    child = run_python("-c", "import tinycrnn; print(tinycrnn.__file__)").stdout.strip()
    return f"tinycrnn: {os.path.dirname(tinycrnn.__file__)} (child processes: {os.path.dirname(child) or '?'})"
