"""The benchmarks measure one thread unless told otherwise (benchmarks/__init__.py): a source-checkout check."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env_after_import(**env):
    if not os.path.isfile(os.path.join(ROOT, "benchmarks", "__init__.py")):
        pytest.skip("no benchmarks/ beside the tests (not a source checkout)")
    base = {k: v for k, v in os.environ.items() if not k.endswith("_THREADS")}
    code = "import benchmarks, os; print(os.environ['OPENBLAS_NUM_THREADS'], os.environ['NUMBA_NUM_THREADS'])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(base, **env), capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


def test_benchmarks_default_to_one_thread():
    assert _env_after_import() == ["1", "1"]


def test_benchmarks_keep_a_thread_count_the_caller_set():
    assert _env_after_import(OPENBLAS_NUM_THREADS="3") == ["3", "1"]
