"""One entry point for every decoding option: validate them all, filter, then dispatch.

Callers (the Reader, the CLI, the server) pass user options straight through; every bad option
fails here with a DecodeOptionError before any decoding work.
"""
from typing import Iterable, Optional, Sequence, Union

import numpy as np

from ..errors import DecodeOptionError, InputTypeError
from .beam import ctc_beam
from .checks import check_blank, check_count
from .filters import Chars, apply_char_filter
from .greedy import ctc_greedy
from .lexicon import MODES, Lexicon, ctc_lexicon
from .result import Decoded

DECODERS = ("greedy", "beam")


def decode(probs: np.ndarray, charset: Sequence[str], decoder: str = "greedy", beam_width: int = 10,
           lexicon: Union[None, Lexicon, Iterable[str]] = None, allowlist: Optional[Chars] = None,
           blocklist: Optional[Chars] = None, topk: int = 1, blank: int = 0, *, lexicon_mode: str = "hard",
           case_insensitive: bool = False) -> Decoded:
    """Decode one line of CTC output with the chosen decoder and constraints.

    Order of work: validate every option, apply the allow/block lists
    (:func:`apply_char_filter`), then decode: with a ``lexicon``, :func:`ctc_lexicon` (soft
    mode compares with the ``decoder``'s unconstrained result); otherwise :func:`ctc_greedy` or
    :func:`ctc_beam`.

    Args:
        probs: (T, K) class probabilities.
        charset: K symbols, index ``blank`` being the CTC blank.
        decoder: ``"greedy"`` or ``"beam"``.
        beam_width: beam width (>= 1); checked even for greedy, so a typo fails early.
        lexicon: a :class:`Lexicon` (build it once, reuse it) or a list of words; ``None`` = free text.
        allowlist: only these characters may be emitted.
        blocklist: these characters may not be emitted.
        topk: entries in ``alternatives``; above 1 needs ``decoder="beam"`` or a lexicon.
        blank: index of the blank class.
        lexicon_mode: ``"hard"`` or ``"soft"``, see :func:`ctc_lexicon`.
        case_insensitive: match lexicon words in any case (word lists only).

    Returns:
        A :class:`Decoded`.

    Raises:
        InputTypeError: ``probs`` is not (T, K) float, or ``lexicon`` is a single str.
        DecodeOptionError: unknown decoder or lexicon mode, ``beam_width`` or ``topk`` < 1,
            ``topk > 1`` with greedy and no lexicon, an empty or unspellable lexicon, a filter that
            removes every character, or ``probs`` that are not probabilities.
    """
    if decoder not in DECODERS:
        raise DecodeOptionError(f"decode: unknown decoder {decoder!r}; use one of {', '.join(DECODERS)}")
    beam_width = check_count("beam_width", beam_width, "decode")
    topk = check_count("topk", topk, "decode")
    check_blank(blank, len(charset), "decode")
    if lexicon_mode not in MODES:
        raise DecodeOptionError(f"decode: lexicon_mode must be one of {MODES}, got {lexicon_mode!r}")
    if lexicon is not None:
        if isinstance(lexicon, str):
            raise InputTypeError("decode: lexicon must be a list of words or a Lexicon, got one str; wrap it in a list")
        if not isinstance(lexicon, Lexicon):
            lexicon = list(lexicon)
            if not lexicon:
                raise DecodeOptionError("decode: the lexicon is empty; pass lexicon=None for free decoding")
    elif topk > 1 and decoder == "greedy":
        raise DecodeOptionError("decode: topk > 1 needs decoder='beam' (greedy has a single path) or a lexicon")
    p = apply_char_filter(probs, charset, allowlist, blocklist, blank)  # validates probs too

    def free(k: int = 1) -> Decoded:
        return ctc_greedy(p, charset, blank) if decoder == "greedy" else ctc_beam(p, charset, blank, beam_width, k)

    if lexicon is None:
        return free(topk)
    fallback = free() if lexicon_mode == "soft" else None
    return ctc_lexicon(p, charset, lexicon, blank, mode=lexicon_mode, case_insensitive=case_insensitive, topk=topk,
                       fallback=fallback)
