"""What one batch worker runs: pin the process to one thread, load the models once, read images into records.

Used by the local process pool (:mod:`tinycrnn.batch.runner`, one process per core) and by Ray actors
(:mod:`tinycrnn.batch.ray`). Reading never raises for a bad image: it returns an error record.
"""
import os
import signal
import sys
import time
from typing import Any, Dict, Optional

from .records import error_record, line_record, page_record

#: Thread-pool variables read by OpenBLAS/MKL/OpenMP and Numba when they load.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "OMP_THREAD_LIMIT")


def pin_threads(n: int = 1) -> None:
    """Limit this process to ``n`` compute threads: Numba, BLAS/OpenMP and OpenCV.

    Meant for worker processes only, before they import numpy/numba (pools read the variables at load).
    Where numba is loaded already (a Ray worker), its thread count is lowered through its API instead.
    """
    # NOTE: writes os.environ on purpose: this runs in a worker process tinycrnn started (or a Ray actor
    # that asked for it), never in the user's process.
    for var in THREAD_VARS:
        os.environ[var] = str(n)
    if "numpy" in sys.modules:
        _pin_loaded_blas(n)
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    import cv2

    cv2.setNumThreads(n)


def _pin_loaded_blas(n: int) -> None:
    """Set the thread count of an OpenBLAS that is loaded already (a Ray worker imports numpy before any actor
    code runs, so the variables come too late): through its own ``*openblas_set_num_threads*`` call."""
    import ctypes

    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            libs = {line.split()[-1] for line in f if "openblas" in line.rsplit("/", 1)[-1].lower()}
    except OSError:
        return
    for lib in libs:
        try:
            handle = ctypes.CDLL(lib)
        except OSError:
            continue
        for name in ("openblas_set_num_threads", "openblas_set_num_threads64_", "scipy_openblas_set_num_threads64_",
                     "scipy_openblas_set_num_threads"):
            fn = getattr(handle, name, None)
            if fn is not None:
                fn(ctypes.c_int(n))
                break


class Reader:
    """Holds the models of one worker and turns an image into a record.

    Args:
        mode: ``"page"`` (line detection + recognition, :class:`tinycrnn.OCR`) or ``"line"`` (each image is
            one text line, :class:`tinycrnn.Recognizer`).
        model: a model name or ``.tcrnn`` path (default: the page model, or english_g2 in line mode).
        decode_options: decoder options as ``tinycrnn read`` builds them (``decoder``, ``beam_width``,
            ``lexicon``, ``allowlist``, ``blocklist``).
        case: page mode: read lower-case pages again with the case model (``read``'s default; ``--no-case``).
        min_confidence: page mode: drop lines read below this.
        warm: load the compiled kernels here (compiling them first on a cold machine, :func:`warm_once`), so
            that cost is the worker's start-up and not image 1's.
    """

    def __init__(self, mode: str = "page", model: Optional[str] = None, decode_options: Optional[Dict[str, Any]] = None,
                 case: bool = True, min_confidence: float = 0.0, backend: Optional[str] = None, warm: bool = True):
        from ..engine import resolve_model_path
        from ..recognizer import Recognizer

        if mode not in ("page", "line"):
            from ..errors import InputTypeError

            raise InputTypeError(f"mode must be 'page' or 'line', got {mode!r}")
        self.mode = mode
        t0 = time.perf_counter()
        opts = dict(decode_options or {})
        if mode == "line":
            self.recognizer = Recognizer(resolve_model_path(model or "english_g2"), backend=backend, **opts)
            self.ocr = None
        else:
            from ..page.defaults import default_page_model
            from ..page.pipeline import OCR

            page_model = resolve_model_path(model) if model else default_page_model(backend or "numba")
            case_model = OCR.auto_case_model(page_model, backend or "numba") if case else None
            self.recognizer = Recognizer(page_model, backend=backend, **opts)
            self.ocr = OCR(model=self.recognizer, min_confidence=min_confidence, backend=backend, case_model=case_model)
        self.model = self.recognizer.model.name
        if warm:
            recs = [self.recognizer] + ([self.ocr.case_reader()] if self.ocr is not None and self.ocr.case_model else [])
            warm_once(recs)
        self.load_ms = (time.perf_counter() - t0) * 1000

    def read(self, path: str, data: Optional[bytes] = None) -> Dict[str, Any]:
        """The record of one image: from ``data`` (encoded bytes) when given, else from the file ``path``."""
        src = path if data is None else data
        try:
            if self.ocr is not None:
                return page_record(path, self.model, self.ocr.read(src))
            t0 = time.perf_counter()
            img = self.recognizer.load(src)
            t1 = time.perf_counter()
            res = self.recognizer.recognize_batch([img])[0]
            t2 = time.perf_counter()
            return line_record(path, self.model, int(img.shape[1]), int(img.shape[0]), res,
                               (t1 - t0) * 1000, (t2 - t1) * 1000)
        except Exception as exc:  # NOTE: any failure on one image is that image's record, never the run's end
            return error_record(path, self.mode, self.model, exc)


def warm_once(recognizers) -> None:
    """Load (or, the first time on this machine, compile) every kernel the recognisers can reach.

    Cold machine: one process compiles everything (``tinycrnn warmup``'s routine) while the others wait
    on a lock file, then load the cache, instead of each worker compiling the same kernels at once.
    """
    import numpy as np

    from ..kernels.warm_marks import is_warm
    from ..warmup import warm_recognizer

    cold = [r for r in recognizers if r.model.backend == "numba" and not is_warm(r.model.path)]
    if cold:
        import tempfile

        try:
            import fcntl
        except ImportError:  # no flock (Windows): every worker warms on its own
            fcntl = None
        with open(os.path.join(tempfile.gettempdir(), "tinycrnn-warmup.lock"), "a") as lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            for r in cold:
                if not is_warm(r.model.path):
                    warm_recognizer(r)
    for r in recognizers:
        r.recognize(np.full((r.spec.height, 4 * r.spec.height), 255, np.uint8))


def worker_main(conn: Any, config: Dict[str, Any]) -> None:
    """Entry point of a local worker process (spawned): pin threads, load, then answer chunks of paths.

    Protocol on ``conn``: the worker sends ``("ready", pid, load_ms, model)`` or ``("fatal", type, message)``;
    then for every ``[(index, path), ...]`` it receives it sends ``("rec", index, record)`` per image, in
    order; ``None`` stops it.
    """
    # NOTE: Ctrl-C reaches the whole process group; the parent decides how the run stops
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pin_threads(1)
    try:
        reader = Reader(**config)
    except Exception as exc:
        conn.send(("fatal", type(exc).__name__, str(exc)))
        return
    conn.send(("ready", os.getpid(), reader.load_ms, reader.model))
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        for idx, path in chunk:
            conn.send(("rec", idx, reader.read(path)))
