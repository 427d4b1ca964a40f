"""Which models ``tinycrnn warmup`` has compiled on this machine, known without importing Numba.

Why: a one-shot ``tinycrnn read`` on a machine whose kernels are not compiled yet would spend 10-20 s
compiling before it reads one line, while the NumPy twins read a page in about a second (and Numba's
import alone costs 0.3 s). The CLI asks :func:`is_warm` and, for a small read on a cold machine,
runs the twins instead (``cli._cold_read_backend``). Warm-up leaves one small marker file per model
beside Numba's cache (same folder rules: ``NUMBA_CACHE_DIR``, else ``__pycache__`` next to the
kernels when writable, else the user's cache folder), keyed by everything that invalidates the
compiled code: tinycrnn and Numba versions, the CPU (or ``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES``)
and the model file. A stale marker (cache deleted since) only means the read compiles after all.
"""
import functools
import hashlib
import json
import os
import platform
import time
from typing import Optional

_CPUINFO_KEYS = ("model name", "flags", "features", "cpu part", "cpu implementer")


@functools.lru_cache(maxsize=1)
def _cpu_identity() -> str:
    parts = [platform.machine(), os.environ.get("NUMBA_CPU_NAME", ""), os.environ.get("NUMBA_CPU_FEATURES", "")]
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            seen = set()
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in _CPUINFO_KEYS and key not in seen:
                    seen.add(key)
                    parts.append(value.strip())
    except OSError:
        parts.append(platform.processor())
    return "|".join(parts)


def _numba_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("numba")
    except PackageNotFoundError:
        return "none"


def marker_dir() -> str:
    """The folder markers go to (created on write)."""
    explicit = os.environ.get("NUMBA_CACHE_DIR")
    if explicit:
        return os.path.join(explicit, "tinycrnn-warm")
    in_tree = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")
    if os.access(in_tree if os.path.isdir(in_tree) else os.path.dirname(in_tree), os.W_OK):
        return in_tree
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tinycrnn")


def marker_path(model_path: str) -> str:
    """The marker of the model file at ``model_path`` on this machine and installation."""
    from .._version import __version__

    st = os.stat(model_path)
    key = "\n".join([__version__, _numba_version(), _cpu_identity(), os.path.basename(model_path), str(st.st_size)])
    stem = os.path.splitext(os.path.basename(model_path))[0]
    return os.path.join(marker_dir(), f"{stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.warm")


def is_warm(model_path: str) -> bool:
    """Whether ``tinycrnn warmup`` compiled this model's kernels here (see the module docstring)."""
    return os.path.isfile(marker_path(model_path))


def mark_warm(model_path: Optional[str]) -> None:
    """Record that every kernel of the model at ``model_path`` is compiled; best effort (a read-only
    cache folder just means later one-shot reads keep using the twins)."""
    if not model_path or not os.path.isfile(model_path):
        return
    path = marker_path(model_path)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"model": os.path.abspath(model_path), "written": time.strftime("%Y-%m-%dT%H:%M:%S")}, f)
    except OSError:
        pass
