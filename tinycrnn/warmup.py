"""Compile and cache every Numba kernel a model can reach, ahead of the first real request.

Why: Numba compiles a kernel the first time a code path runs and caches it on disk; which kernels
run depends on the input (a narrow line takes the direct conv where a wide one takes Winograd, a
batch of five lines another LSTM tile than a single line, beam and lexicon decoding their own
kernels). Reading a sample warms only the paths that sample takes, so the first unusual request
after an install still compiled for up to a second. ``tinycrnn warmup`` runs synthetic lines of
every width class and batch class through each model, and both CTC search kernels, once, at image
build time or on first boot (``NUMBA_CACHE_DIR`` decides where the cache goes).
"""
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .kernels.compile_events import CompileLog as CompileLog
from .kernels.warm_marks import mark_warm

#: Line widths, in line heights: narrow enough for the direct conv, and wide enough for Winograd.
WIDTHS = (0.5, 1.5, 4.0, 16.0)
#: Batch sizes that select the recurrence's 1-, 2-, 4- and 8-line tiles.
BATCHES = (1, 2, 3, 5)


@dataclass
class Warmed:
    """What warming one model did: ``compiled`` kernels compiled (0 when the cache was already warm)."""

    model: str
    seconds: float
    compiled: int


def synthetic_line(height: int, width: int, channels: int, seed: int) -> np.ndarray:
    """A uint8 line of dark strokes on white: enough structure to reach every kernel, no text needed."""
    rng = np.random.default_rng(seed)
    img = np.full((height, max(width, 2)), 255, np.uint8)
    for x in range(2, img.shape[1] - 2, max(3, height // 3)):
        y0 = int(rng.integers(height // 5, height // 2))
        img[y0 : height - height // 5, x : x + max(1, height // 10)] = 30
    return np.repeat(img[:, :, None], 3, axis=2) if channels == 3 else img


def warm_model(name: str, backend: Optional[str] = None) -> Warmed:
    """Run ``name`` on every width class and batch class, then greedy, beam and lexicon decoding."""
    from .recognizer import Recognizer

    from .engine import load_model

    t = time.perf_counter()
    model = load_model(name, backend=backend)
    if model.task != "recognize":
        return warm_graph_model(model, name)
    w = warm_recognizer(Recognizer(model), name)
    return Warmed(name, time.perf_counter() - t, w.compiled)


def warm_graph_model(model, name: str = "") -> Warmed:
    """A detector or classifier: one forward pass on a small input reaches every kernel it uses."""
    with CompileLog() as log:
        t = time.perf_counter()
        h = model.height or 2 * model.multiple
        w = 192 if model.task == "classify" else 3 * model.multiple
        model.forward(np.zeros((1, model.channels, h, w), np.float32))
        seconds = time.perf_counter() - t
    if model.backend == "numba":
        mark_warm(model.path)
    return Warmed(name or model.name, seconds, len(log.compiled))


def warm_recognizer(rec, name: str = "") -> Warmed:
    """:func:`warm_model` on a loaded :class:`~tinycrnn.Recognizer` (e.g. a server's resident one)."""
    with CompileLog() as log:
        t = time.perf_counter()
        h, c = rec.spec.height, 1 if rec.spec.color == "gray" else 3
        for k, ratio in enumerate(WIDTHS):
            rec.recognize(synthetic_line(h, int(ratio * h), c, k))
        for n in BATCHES:
            rec.recognize_batch([synthetic_line(h, 3 * h, c, 100 + j) for j in range(n)])
        probs = rec.probabilities([synthetic_line(h, 4 * h, c, 7)])[0]
        rec.decode(probs, decoder="beam", beam_width=5)
        words = [ch * 3 for ch in rec.charset[1:6] if ch.strip()] or ["a"]
        rec.decode(probs, lexicon=words)
        seconds = time.perf_counter() - t
    if rec.model.backend == "numba":
        mark_warm(rec.model.path)
    return Warmed(name or getattr(rec.model, "name", "?"), seconds, len(log.compiled))
