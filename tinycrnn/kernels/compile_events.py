"""Numba compile events, seen from tinycrnn: a one-time notice to the user, and a log for warm-up.

Why: Numba compiles a kernel the first time a code path runs on a machine and caches the result on
disk. Without a word, a first read that takes ten seconds looks like a hang. :func:`announce_compiles`
says once per process, on stderr, when a kernel actually has to be compiled (a cache hit says
nothing), what is happening and how to do it ahead of time. :class:`CompileLog` lists what compiled
while it is active (``tinycrnn warmup``, its test and ``benchmarks/bench_coldstart.py``).
"""
import os
import sys
import threading
import time
from typing import List, Tuple

_announced = threading.Event()
_installed = threading.Lock()
_listener = None
#: Set by :class:`CompileLog` while warm-up compiles on purpose: the notice is then redundant.
_quiet = threading.local()


def _is_ours(ev) -> bool:
    return ev.data["dispatcher"].py_func.__module__.startswith("tinycrnn")


def _cache_dir(ev) -> str:
    explicit = os.environ.get("NUMBA_CACHE_DIR")
    if explicit:
        return explicit
    try:  # NOTE: private Numba attribute; only used to make the message precise
        return os.path.dirname(ev.data["dispatcher"]._cache._cache_path)
    except AttributeError:
        return "Numba's cache folder"


def compile_notice(cache_dir: str) -> str:
    """The text printed before the first compilation of a process."""
    from numba.core.config import CPU_NAME
    import llvmlite.binding as ll

    cpu = CPU_NAME or ll.get_host_cpu_name()
    return (f"tinycrnn: compiling kernels for this CPU ({cpu}). This happens once per machine: the result is "
            f"cached in {cache_dir} and later runs start in about a second. `tinycrnn warmup` compiles "
            "every kernel ahead of time.")


def announce_compiles() -> None:
    """From now on, print :func:`compile_notice` on stderr before the first tinycrnn kernel compiles.

    Idempotent and cheap; installed when the Numba kernels are first requested. ``TINYCRNN_QUIET=1``
    silences it.
    """
    global _listener
    if _listener is not None or os.environ.get("TINYCRNN_QUIET", "") not in ("", "0"):
        return  # NOTE: lock-free fast path: the decoders call this on every search
    with _installed:
        if _listener is not None:
            return
        from numba.core import event

        class Notice(event.Listener):
            def on_start(self, ev):
                if _announced.is_set() or getattr(_quiet, "depth", 0) or not _is_ours(ev):
                    return
                _announced.set()
                print(compile_notice(_cache_dir(ev)), file=sys.stderr, flush=True)

            def on_end(self, ev):
                pass

        _listener = Notice()
        event.register("numba:compile", _listener)


class CompileLog:
    """While active, ``compiled`` lists each top-level Numba compilation of a tinycrnn kernel as
    ``("module.kernel", seconds)``. Compile events nest (a kernel's callees compile inside it), so only
    the outermost ones are listed. The compile notice stays silent meanwhile: warm-up compiles on
    purpose and reports what it did."""

    def __enter__(self):
        from numba.core import event

        self.compiled: List[Tuple[str, float]] = []
        started: List[float] = []
        compiled = self.compiled

        class Listener(event.Listener):
            def on_start(self, ev):
                started.append(time.perf_counter())

            def on_end(self, ev):
                seconds = time.perf_counter() - started.pop()
                if not started and _is_ours(ev):
                    f = ev.data["dispatcher"].py_func
                    compiled.append((f.__module__.rsplit(".", 1)[-1] + "." + f.__name__, seconds))

        self._listener = Listener()
        event.register("numba:compile", self._listener)
        _quiet.depth = getattr(_quiet, "depth", 0) + 1
        return self

    def __exit__(self, *exc):
        from numba.core import event

        _quiet.depth -= 1
        event.unregister("numba:compile", self._listener)
        return False
