"""tinycrnn.memory: the page pipeline keeps freed memory in the process (glibc), unless TINYCRNN_MALLOC=system.

Checked by behaviour in fresh processes: after a 200 MB array is freed, the resident set drops back with glibc's
defaults (the block was mmapped and is unmapped on free) and stays with the setting (the block came from the heap,
which is not trimmed), so the next page's arrays need no fresh pages."""
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="mallopt is glibc's (Linux)")

_PROBE = """
import numpy as np, sys
from tinycrnn.memory import keep_freed_memory
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
before = rss_mb()
a = np.ones(50 * 2**20, np.float32)  # 200 MB, touched
del a
print(applied, round(rss_mb() - before))
"""


def _probe(mode, **env):
    base = {k: v for k, v in os.environ.items() if k != "TINYCRNN_MALLOC"}
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], env=dict(base, **env), capture_output=True, text=True,
                         check=True, timeout=120)
    applied, kept_mb = out.stdout.split()
    return applied == "True", int(kept_mb)


def test_glibc_defaults_give_a_freed_block_back():
    applied, kept = _probe("default")
    assert not applied and kept < 50


def test_keep_freed_memory_keeps_a_freed_block_resident():
    applied, kept = _probe("keep")
    assert applied and kept > 150


def test_tinycrnn_malloc_system_leaves_malloc_alone():
    applied, kept = _probe("keep", TINYCRNN_MALLOC="system")
    assert not applied and kept < 50


def test_the_page_pipeline_applies_it():
    code = ("import tinycrnn, tinycrnn.memory as m; tinycrnn.OCR(detector='lines', case_model=None); "
            "print(m._applied)")
    base = {k: v for k, v in os.environ.items() if k != "TINYCRNN_MALLOC"}
    out = subprocess.run([sys.executable, "-c", code], env=base, capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.split()[-1] == "True"
