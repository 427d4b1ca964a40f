"""Validation at the door, shared by the decoders: kernels behind them trust what passes here."""
from typing import Sequence

import numpy as np

from ..errors import DecodeOptionError, InputTypeError

#: How far above 1.0 a probability may stray (float32 softmax rounding) before it is rejected.
PROB_SLACK = 1e-3


def check_probs(probs: np.ndarray, charset: Sequence[str], blank: int, who: str) -> np.ndarray:
    """Check a ``(T, K)`` probability matrix and return it as a C-contiguous float32/float64 array.

    float32 input is kept as float32 (no copy of a 6625-class matrix); other float dtypes are
    converted to float64.

    Args:
        probs: (T, K) class probabilities, K == len(charset).
        charset: the K symbols, index ``blank`` being the CTC blank.
        blank: index of the blank class.
        who: the public function's name, for the messages.

    Returns:
        (T, K) float32 or float64, C-contiguous.

    Raises:
        InputTypeError: ``probs`` is not a 2-D float array with one column per charset symbol.
        DecodeOptionError: ``blank`` is out of range, or ``probs`` holds NaN, negative values or
            values above 1 (logits passed by mistake).
    """
    p = np.asarray(probs)
    if p.ndim != 2 or p.shape[1] != len(charset):
        raise InputTypeError(f"{who}: expected probs of shape (T, {len(charset)}), got {p.shape}")
    if p.dtype.kind != "f":
        raise InputTypeError(f"{who}: expected float probabilities, got dtype {p.dtype}; pass softmax(logits)")
    if p.dtype != np.float32:
        p = p.astype(np.float64, copy=False)
    p = np.ascontiguousarray(p)
    check_blank(blank, len(charset), who)
    if p.size and not (p.min() >= 0.0 and p.max() <= 1.0 + PROB_SLACK):
        raise DecodeOptionError(
            f"{who}: probs must be probabilities in [0, 1], found values in [{p.min()}, {p.max()}]; "
            "if these are logits, pass tinycrnn.decode.softmax(logits)"
        )
    return p


def check_blank(blank: int, n_classes: int, who: str) -> None:
    """Raise DecodeOptionError unless ``blank`` is a class index in ``[0, n_classes)``."""
    if isinstance(blank, bool) or not isinstance(blank, (int, np.integer)) or not 0 <= blank < n_classes:
        raise DecodeOptionError(f"{who}: blank must be a class index in [0, {n_classes}), got {blank!r}")


def check_count(name: str, value: int, who: str) -> int:
    """Return ``value`` as an int if it is an integer >= 1, else raise DecodeOptionError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DecodeOptionError(f"{who}: {name} must be an integer >= 1, got {value!r}")
    return int(value)
