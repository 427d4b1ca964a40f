"""Greedy (best-path) CTC decoding with EasyOCR's confidence formula."""
import math
from typing import Optional, Sequence, Tuple

import numpy as np

from ..errors import InputTypeError
from .result import Decoded


def path_confidence(step_max_probs: np.ndarray) -> float:
    """EasyOCR's ``custom_mean``: ``prod(m) ** (2 / sqrt(len(m)))``, 0.0 when ``m`` is empty.

    Args:
        step_max_probs: (n,) the winning probability of every non-blank step of the path.
    """
    m = np.asarray(step_max_probs, dtype=np.float64)
    if m.size == 0:
        return 0.0
    return float(np.prod(m) ** (2.0 / math.sqrt(m.size)))


def collapse(path: np.ndarray, blank: int = 0):
    """Merge repeats, then drop blanks. Returns the kept labels and each one's ``(start, end)`` span."""
    labels, spans = [], []
    prev = -1
    for t, k in enumerate(path.tolist()):
        if k != prev and k != blank:
            labels.append(k)
            spans.append([t, t + 1])
        elif k == prev and k != blank:
            spans[-1][1] = t + 1
        prev = k
    return labels, [tuple(s) for s in spans]


def ctc_greedy(probs: np.ndarray, charset: Sequence[str], blank: int = 0) -> Decoded:
    """Decode one line by taking the most probable class at every step.

    Args:
        probs: (T, K) class probabilities (rows sum to 1), e.g. ``softmax(logits)``.
        charset: K symbols, index ``blank`` being the CTC blank.
        blank: index of the blank class.

    Returns:
        A :class:`Decoded` with text, confidence, per-character confidences and spans.

    Example:
        >>> import numpy as np
        >>> p = np.array([[.1, .9, 0], [.1, .9, 0], [.8, .1, .1], [.1, .9, 0]])
        >>> ctc_greedy(p, ["", "a", "b"]).text
        'aa'
    """
    p = np.asarray(probs)
    if p.ndim != 2 or p.shape[1] != len(charset):
        raise InputTypeError(f"ctc_greedy: expected probs of shape (T, {len(charset)}), got {p.shape}")
    path = p.argmax(axis=1)
    return decoded_from_path(path, p[np.arange(p.shape[0]), path], charset, blank)


def decoded_from_path(path: np.ndarray, step_probs: np.ndarray, charset: Sequence[str], blank: int = 0,
                      text: Optional[str] = None, alternatives: Tuple[Tuple[str, float], ...] = ()) -> Decoded:
    """Build a :class:`Decoded` from one alignment path; every decoder reports through this.

    Args:
        path: (T,) int, the class chosen at every step (greedy's argmax path, or the best
            alignment of a beam / lexicon labelling).
        step_probs: (T,) the probability of ``path[t]`` at step ``t``.
        charset: K symbols.
        blank: index of the blank class.
        text: overrides the collapsed path's text (a lexicon entry written in another case).
        alternatives: passed through to the result.

    Returns:
        A :class:`Decoded` whose confidence is :func:`path_confidence` over the non-blank steps.
    """
    best = np.asarray(step_probs)
    labels, spans = collapse(path, blank)
    char_conf = tuple(float(best[s:e][path[s:e] == k].max()) for k, (s, e) in zip(labels, spans))
    return Decoded(
        text="".join(charset[k] for k in labels) if text is None else text,
        confidence=path_confidence(best[path != blank]),
        labels=tuple(labels),
        char_confidences=char_conf,
        spans=tuple(spans),
        alternatives=tuple(alternatives),
    )
