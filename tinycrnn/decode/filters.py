"""Character allow/block lists applied to the probabilities, before any decoder runs.

EasyOCR's ``allowlist`` / ``blocklist`` semantics: disallowed classes get probability 0 and
every row is renormalised. The blank is never removed. Works with every decoder because it
only changes ``probs``.
"""
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

from ..errors import DecodeOptionError, InputTypeError
from .checks import check_probs

Chars = Union[str, Iterable[str]]


def _symbols(chars: Chars, name: str) -> List[str]:
    """A str is a set of characters; any other iterable is a list of charset symbols."""
    if isinstance(chars, str):
        return list(chars)
    try:
        items = list(chars)
    except TypeError:
        raise InputTypeError(f"apply_char_filter: {name} must be a str or an iterable of str, got {chars!r}") from None
    bad = [c for c in items if not isinstance(c, str)]
    if bad:
        raise InputTypeError(f"apply_char_filter: {name} must hold strings, got {bad[:5]!r}")
    return items


def apply_char_filter(probs: np.ndarray, charset: Sequence[str], allowlist: Optional[Chars] = None,
                      blocklist: Optional[Chars] = None, blank: int = 0) -> np.ndarray:
    """Zero the classes of disallowed characters (never the blank) and renormalise each row.

    Args:
        probs: (T, K) class probabilities.
        charset: K symbols, index ``blank`` being the CTC blank.
        allowlist: if given, only these characters may be emitted (a str, or an iterable of
            charset symbols). Every character must be in the charset.
        blocklist: characters that may not be emitted; ones the charset lacks are ignored (the
            model cannot emit them anyway). Applied after ``allowlist``.
        blank: index of the blank class.

    Returns:
        (T, K) filtered probabilities, same dtype as ``probs``; ``probs`` itself (no copy) when
        neither list is given. A row whose mass was all on removed classes becomes all-blank.

    Raises:
        InputTypeError: bad ``probs``, or a list that is not strings.
        DecodeOptionError: the allowlist names characters the charset lacks (listed in the
            message), or the filter leaves no non-blank class.
    """
    p = check_probs(probs, charset, blank, "apply_char_filter")
    if allowlist is None and blocklist is None:
        return p
    where: Dict[str, List[int]] = {}
    for k, sym in enumerate(charset):
        if k != blank:
            where.setdefault(sym, []).append(k)
    keep = np.ones(len(charset), dtype=bool)
    if allowlist is not None:
        allowed = _symbols(allowlist, "allowlist")
        unknown = sorted(set(allowed) - where.keys())
        if unknown:
            raise DecodeOptionError(
                f"apply_char_filter: the allowlist has {len(unknown)} character(s) this charset cannot emit: "
                f"{unknown[:20]!r}; remove them, or use a model whose charset has them"
            )
        keep[:] = False
        for sym in allowed:
            keep[where[sym]] = True
    if blocklist is not None:
        for sym in _symbols(blocklist, "blocklist"):
            keep[where.get(sym, [])] = False
    keep[blank] = True
    if keep.sum() == 1:
        raise DecodeOptionError("apply_char_filter: the allowlist/blocklist leaves no character the model can "
                                "emit, only the blank; every line would decode to ''")
    out = p * keep
    mass = out.sum(axis=1, keepdims=True)
    empty = mass[:, 0] <= 0
    out[empty, blank] = 1.0
    mass[empty] = 1.0
    out /= mass
    return out
