"""Scoring one fixed labelling under CTC: forward log-likelihood and best alignment (Viterbi).

The NumPy ``*_ref`` twins live here; the Numba kernels are in ``_ctc_kernel.py`` and are
imported on first use. Nothing here searches over labellings (that is ``beam.py`` and
``lexicon.py``).
"""
import math
from typing import Optional, Sequence, Tuple

import numpy as np

from ..config import kernel_backend
from .greedy import decoded_from_path
from .result import Decoded


def safe_log(x: np.ndarray) -> np.ndarray:
    """``log(x)`` in float64 with ``log(0) = -inf`` and no warning."""
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(x, dtype=np.float64))


def _extended(labels: np.ndarray, blank: int) -> np.ndarray:
    """``[blank, l1, blank, l2, ..., lL, blank]``: the 2L+1 CTC states of a labelling."""
    ext = np.full(2 * len(labels) + 1, blank, dtype=np.int64)
    ext[1::2] = labels
    return ext


def _skip_allowed(ext: np.ndarray, blank: int) -> np.ndarray:
    """(S,) bool: state s may be entered from s-2 (a label that differs from the previous label)."""
    skip = np.zeros(len(ext), dtype=bool)
    skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    return skip


def ctc_log_likelihood_ref(log_probs: np.ndarray, labels: Sequence[int], blank: int = 0) -> float:
    """log P(labels | x): log-sum over every path that collapses to ``labels`` (forward algorithm).

    Args:
        log_probs: (T, K) float64 per-step class log-probabilities (``-inf`` allowed).
        labels: the labelling, class indices without blanks.
        blank: index of the blank class.

    Returns:
        The log-likelihood; ``-inf`` when no path fits (e.g. more labels than steps allow).
    """
    labels = np.asarray(labels, dtype=np.int64)
    T = log_probs.shape[0]
    if T == 0:
        return 0.0 if labels.size == 0 else -math.inf
    ext = _extended(labels, blank)
    skip = _skip_allowed(ext, blank)
    lp = log_probs[:, ext]
    alpha = np.full(len(ext), -np.inf)
    alpha[: min(2, len(ext))] = lp[0, : min(2, len(ext))]
    for t in range(1, T):
        a = alpha.copy()
        a[1:] = np.logaddexp(a[1:], alpha[:-1])
        a[2:] = np.where(skip[2:], np.logaddexp(a[2:], alpha[:-2]), a[2:])
        alpha = a + lp[t]
    return float(np.logaddexp(alpha[-1], alpha[-2]) if len(ext) > 1 else alpha[-1])


def ctc_best_path_ref(log_probs: np.ndarray, labels: Sequence[int], blank: int = 0) -> Tuple[float, np.ndarray]:
    """The most probable path that collapses to ``labels`` (Viterbi), and its log-probability.

    Ties prefer staying in a state, then the previous state, then skipping a blank; at the end the
    last label is preferred to the trailing blank. The Numba kernel follows the same order.

    Args:
        log_probs: (T, K) float64 per-step class log-probabilities.
        labels: the labelling, class indices without blanks.
        blank: index of the blank class.

    Returns:
        ``(score, path)``: the path's log-probability (``-inf`` if none fits) and (T,) int64 class
        indices (meaningless when the score is ``-inf``).
    """
    labels = np.asarray(labels, dtype=np.int64)
    T = log_probs.shape[0]
    ext = _extended(labels, blank)
    S = len(ext)
    if T == 0:
        return (0.0 if labels.size == 0 else -math.inf), np.zeros(0, dtype=np.int64)
    skip = _skip_allowed(ext, blank)
    lp = log_probs[:, ext]
    back = np.zeros((T, S), dtype=np.int64)
    delta = np.full(S, -np.inf)
    delta[: min(2, S)] = lp[0, : min(2, S)]
    for t in range(1, T):
        cand = np.full((3, S), -np.inf)
        cand[0] = delta
        cand[1, 1:] = delta[:-1]
        cand[2, 2:] = np.where(skip[2:], delta[:-2], -np.inf)
        back[t] = cand.argmax(axis=0)
        delta = cand.max(axis=0) + lp[t]
    s = S - 1 if S == 1 or delta[S - 1] >= delta[S - 2] else S - 2
    score = float(delta[s])
    states = np.zeros(T, dtype=np.int64)
    for t in range(T - 1, -1, -1):
        states[t] = s
        s -= back[t, s]
    return score, ext[states]


def _kernels():
    from . import _ctc_kernel  # NOTE: lazy, so `import tinycrnn.decode` does not import numba
    from ..kernels.compile_events import announce_compiles

    announce_compiles()

    return _ctc_kernel


def score_labellings(log_probs: np.ndarray, flat: np.ndarray, offsets: np.ndarray, sel: np.ndarray,
                     blank: int) -> np.ndarray:
    """Forward log-likelihoods of many labellings stored back to back.

    Args:
        log_probs: (T, U) float64 log-probabilities of the columns the labellings use.
        flat: (n,) int32 column indices of every labelling, concatenated.
        offsets: (V+1,) int64; labelling ``v`` is ``flat[offsets[v]:offsets[v+1]]``.
        sel: (M,) int64 indices of the labellings to score.
        blank: column index of the blank in ``log_probs``.

    Returns:
        (M,) float64 log-likelihoods, ``-inf`` where no path fits.
    """
    lp = np.ascontiguousarray(log_probs, dtype=np.float64)
    sel = np.ascontiguousarray(sel, dtype=np.int64)
    if kernel_backend() == "numpy":
        return np.array([ctc_log_likelihood_ref(lp, flat[offsets[v]:offsets[v + 1]], blank) for v in sel],
                        dtype=np.float64)
    out = np.empty(len(sel), dtype=np.float64)
    longest = int((offsets[sel + 1] - offsets[sel]).max()) if len(sel) else 0
    alpha = np.empty((2, 2 * longest + 1), dtype=np.float64)
    flat = np.ascontiguousarray(flat, dtype=np.int32)
    _kernels().forward_batch(lp, flat, np.ascontiguousarray(offsets, dtype=np.int64), sel, blank, alpha, out)
    return out


def best_path(log_probs: np.ndarray, labels: np.ndarray, blank: int) -> Tuple[float, np.ndarray]:
    """:func:`ctc_best_path_ref` through the configured kernel backend."""
    lp = np.ascontiguousarray(log_probs, dtype=np.float64)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    if kernel_backend() == "numpy":
        return ctc_best_path_ref(lp, labels, blank)
    T, S = lp.shape[0], 2 * len(labels) + 1
    path = np.zeros(T, dtype=np.int64)
    score = _kernels().best_path(lp, labels, blank, np.empty((2, S)), np.empty((T, S), dtype=np.int8), path)
    return float(score), path


def compact_columns(probs: np.ndarray, labels: Sequence[int], blank: int):
    """Log-probabilities of only the blank and the classes ``labels`` uses.

    Scoring a labelling never looks at other classes, and taking the log of a 6625-class matrix
    would cost more than the scoring.

    Returns:
        ``(cols, log_probs, remapped)``: (U,) class of each column (column 0 is the blank),
        (T, U) float64 log-probabilities, and ``labels`` as column indices.
    """
    labels = np.asarray(labels, dtype=np.int64)
    cols, inverse = np.unique(np.concatenate(([blank], labels)), return_inverse=True)
    order = np.argsort(cols != blank, kind="stable")  # blank first
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return cols[order], safe_log(probs[:, cols[order]]), rank[inverse[1:]]


def labelling_log_likelihood(probs: np.ndarray, labels: Sequence[int], blank: int) -> float:
    """Exact log P(labels | x) of one labelling under ``probs`` (T, K)."""
    _, lp, remapped = compact_columns(probs, labels, blank)
    return float(score_labellings(lp, remapped, np.array([0, len(remapped)]), np.zeros(1, np.int64), 0)[0])


def aligned_decoded(probs: np.ndarray, charset: Sequence[str], labels: Sequence[int], blank: int,
                    text: Optional[str] = None, alternatives=()) -> Decoded:
    """Report a chosen labelling the way greedy reports its path: through its best alignment.

    Confidence, per-character confidences and spans all come from the Viterbi path of
    ``labels``, so a beam or lexicon result that equals the greedy text gets greedy's numbers.
    A labelling no path fits (only possible for a lexicon word longer than the line) gets
    confidence 0.0 and no spans.
    """
    cols, lp, remapped = compact_columns(probs, labels, blank)
    score, path_c = best_path(lp, remapped, 0)
    if score == -math.inf:
        return Decoded(text="".join(charset[k] for k in labels) if text is None else text, confidence=0.0,
                       labels=tuple(int(k) for k in labels), alternatives=tuple(alternatives))
    path = cols[path_c]
    return decoded_from_path(path, probs[np.arange(len(path)), path], charset, blank, text, alternatives)
