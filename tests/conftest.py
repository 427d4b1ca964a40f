"""Shared fixtures and the Hypothesis profile (max_examples from TINYCRNN_MAX_EXAMPLES)."""
import json
import os

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
#: CPUs take on this machine (``.ci/run`` runs the kernel and parity tests this way too).
AVX2_CPU = {"NUMBA_CPU_NAME": "haswell",
            "NUMBA_CPU_FEATURES": "+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+f16c,+fma,+fsgsbase,+lzcnt,+mmx,"
                                  "+movbe,+popcnt,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,+xsave"}


@pytest.fixture(scope="session")
def ref_cases():
    with open(os.path.join(REF, "cases.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session", params=["numpy", "numba"])
def english_g2(request):
    import tinycrnn

    return tinycrnn.load_model("english_g2", backend=request.param)
