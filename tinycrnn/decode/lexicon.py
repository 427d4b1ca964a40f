"""Lexicon-constrained CTC decoding: pick the word list entry of highest CTC likelihood.

Words are encoded once (:class:`Lexicon`). Per line, the exact forward log-likelihood is computed
only for words whose upper bound can still beat the words already scored, so the pruned search
returns what exhaustive scoring returns. No edit-distance snapping: that is a heuristic that can
lose, and the bound makes it unnecessary.
"""
import math
import warnings
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import DecodeOptionError, InputTypeError
from .checks import check_blank, check_count, check_probs
from .ctc import best_path, labelling_log_likelihood, safe_log, score_labellings
from .greedy import collapse, decoded_from_path
from .result import Decoded

#: Lexicons of at most this many words are scored exhaustively: bounding them would cost about
#: as much as scoring them.
EXHAUSTIVE_BELOW = 64
#: Words scored first, to set the pruning threshold.
FIRST_BATCH = 32
#: Later words are scored in chunks of this size, in falling bound order.
CHUNK = 256
#: Nats of "likeliness" a word loses per character its length differs from greedy's, when
#: picking the first batch (speed only: the result does not depend on it).
LENGTH_WEIGHT = 1.0
#: Slack added to the bound before comparing it with exact scores (float rounding).
BOUND_SLACK = 1e-9
#: Soft mode snaps to the best word when its log-likelihood is at most this many nats below the
#: unconstrained labelling's (exp(3) ~ 20 times less likely).
DEFAULT_SOFT_MARGIN = 3.0
MODES = ("hard", "soft")


def fold_case(ch: str) -> str:
    """The case-insensitive key of a character: its lower case when that is one character."""
    low = ch.lower()
    return low if len(low) == 1 else ch


class Lexicon:
    """A word list encoded once for one charset, ready for :func:`ctc_lexicon`.

    Words are scored over *columns*: groups of classes that spell the same character. Normally a
    column is one class. With ``case_insensitive=True`` a letter's upper- and lower-case classes
    share a column whose probability is their sum, so a word's likelihood covers every case
    spelling at once (the model may read ``Auto`` for the entry ``AUTO``). Words are concatenated
    into one ``flat`` array of column indices (column 0 is the blank), so scoring never touches
    the classes no word uses.

    Args:
        words: the entries; duplicates are dropped, order is kept (it breaks score ties).
        charset: the model's K symbols; words are spelt with its single-character symbols.
        blank: index of the blank class.
        case_insensitive: match words in any letter case (SVT's lexicons are UPPER case,
            english_g2 reads mixed case).

    Raises:
        InputTypeError: ``words`` is a single string or holds non-strings.
        DecodeOptionError: no word can be spelt with the charset (or the list is empty).

    Words the charset cannot spell (and empty strings) are skipped with one ``UserWarning``
    naming a few of them.
    """

    def __init__(self, words: Iterable[str], charset: Sequence[str], blank: int = 0, case_insensitive: bool = False):
        if isinstance(words, str):
            raise InputTypeError("Lexicon: words must be a list of strings, got one str; wrap it in a list")
        check_blank(blank, len(charset), "Lexicon")
        key = fold_case if case_insensitive else (lambda ch: ch)
        groups: Dict[str, List[int]] = {}
        for k, sym in enumerate(charset):
            if k != blank and len(sym) == 1:
                groups.setdefault(key(sym), []).append(k)
        self.charset = tuple(charset)
        self.blank = blank
        self.case_insensitive = bool(case_insensitive)
        kept, skipped, encoded = [], [], []
        unique = list(dict.fromkeys(words))
        for word in unique:
            if not isinstance(word, str):
                raise InputTypeError(f"Lexicon: words must be strings, got {type(word).__name__} {word!r}")
            keys = [key(ch) for ch in word]
            if not keys or not all(c in groups for c in keys):
                skipped.append(word)
                continue
            kept.append(word)
            encoded.append(keys)
        if not kept:
            raise DecodeOptionError(
                f"Lexicon: none of the {len(unique)} words can be spelt with this charset "
                f"(e.g. {skipped[:5]!r}); check the lexicon's language and case"
            )
        if skipped:
            warnings.warn(f"Lexicon: skipped {len(skipped)} of {len(unique)} words the charset cannot spell, "
                          f"e.g. {skipped[:5]!r}", UserWarning, stacklevel=2)
        self.words = tuple(kept)
        used = sorted({c for keys in encoded for c in keys}, key=lambda c: groups[c][0])
        #: (U,) list of class arrays, one per column; column 0 is the blank.
        self.groups = [np.array([blank])] + [np.array(groups[c]) for c in used]
        self._classes = np.concatenate(self.groups)
        self._starts = np.cumsum([0] + [len(g) for g in self.groups[:-1]])
        column_of = {c: i + 1 for i, c in enumerate(used)}
        lengths = np.array([len(keys) for keys in encoded], dtype=np.int64)
        #: (n,) int32 column indices of every word, back to back.
        self.flat = np.array([column_of[c] for keys in encoded for c in keys], dtype=np.int32)
        #: (W+1,) int64: word w is flat[offsets[w]:offsets[w+1]].
        self.offsets = np.concatenate(([0], np.cumsum(lengths)))
        #: (W,) steps a word needs at least: one per character, plus a blank between equal neighbours.
        self.min_steps = lengths + np.array([sum(a == b for a, b in zip(e, e[1:])) for e in encoded], np.int64)
        counts = [Counter(column_of[c] for c in keys) for keys in encoded]
        #: Per word, each distinct column and how often the word uses it (for :func:`presence_bound`),
        #: back to back; word w's pairs are at count_offsets[w]:count_offsets[w+1].
        self.count_columns = np.array([c for n in counts for c in n], dtype=np.int64)
        self.count_times = np.array([k for n in counts for k in n.values()], dtype=np.int64)
        self.count_offsets = np.concatenate(([0], np.cumsum([len(n) for n in counts])))

    def __len__(self) -> int:
        return len(self.words)

    def column_probs(self, probs: np.ndarray) -> np.ndarray:
        """(T, U) float64 probability of every column: the sum over its classes."""
        return np.add.reduceat(probs[:, self._classes].astype(np.float64), self._starts, axis=1)

    def columns(self, w: int) -> np.ndarray:
        """(L,) int32 column indices of word ``w``."""
        return self.flat[self.offsets[w]:self.offsets[w + 1]]


def presence_bound(col_probs: np.ndarray, lex: Lexicon) -> np.ndarray:
    """An upper bound on every word's log-likelihood, cheap to compute for all of them.

    Every alignment of a word that uses character c ``n_c`` times emits c at ``n_c`` steps or
    more. Each step draws one class independently, so the per-class counts ``N_c`` are negatively
    associated (balls into bins, Dubhashi & Ranjan 1998), and
    ``P(word) <= prod over distinct c of P(N_c >= n_c)``. A word that needs more steps than the
    line has gets ``-inf``. ``P(N_c >= n)`` comes from a log-space recurrence over the steps
    made only of sums, so the bound does not round below the truth even for hopeless words.

    Args:
        col_probs: (T, U) :meth:`Lexicon.column_probs`.
        lex: the lexicon.

    Returns:
        (W,) float64 log upper bounds.
    """
    p = np.clip(col_probs, 0.0, 1.0)
    top = int(lex.count_times.max())
    with np.errstate(divide="ignore"):
        log_p, log_q = np.log(p), np.log1p(-p)
    at_least = np.full((top + 1, p.shape[1]), -np.inf)  # log P(N_c >= n) over the steps so far
    at_least[0] = 0.0
    for t in range(p.shape[0]):
        at_least[1:] = np.logaddexp(log_p[t] + at_least[:-1], log_q[t] + at_least[1:])
    per_pair = at_least[lex.count_times, lex.count_columns]
    bound = np.add.reduceat(per_pair, lex.count_offsets[:-1])
    bound[lex.min_steps > col_probs.shape[0]] = -np.inf
    return bound


def _top(sel: np.ndarray, scores: np.ndarray, k: int) -> List[Tuple[int, float]]:
    """The ``k`` best ``(word, score)`` pairs, best first, ties by lexicon order."""
    return [(int(sel[i]), float(scores[i])) for i in np.lexsort((sel, -scores))[:k]]


def _line_length(probs: np.ndarray, blank: int) -> int:
    """Number of characters greedy decoding reads: where to look first for the best word."""
    path = probs.argmax(axis=1)
    return int(np.count_nonzero((path != blank) & (path != np.concatenate(([-1], path[:-1])))))


def rank_words(probs: np.ndarray, lex: Lexicon, topk: int = 1, exhaustive: bool = False) -> List[Tuple[int, float]]:
    """The ``topk`` words of highest CTC log-likelihood, exactly (branch and bound).

    Unless ``exhaustive`` (or the lexicon is small): score the :data:`FIRST_BATCH` words most
    likely to win (high :func:`presence_bound`, length close to greedy's), take the k-th best
    score as a threshold, then score the remaining words whose bound reaches the threshold, in
    chunks of falling bound, raising the threshold as better words turn up. The bound never
    under-estimates, so no word that could enter the top ``topk`` is skipped: the result is the
    exhaustive one (same ties too: equal scores rank by lexicon order).

    Returns:
        ``[(word index, log-likelihood), ...]``, best first, at most ``topk``, words no path fits
        left out.
    """
    cp = lex.column_probs(probs)
    lp = safe_log(cp)
    n = len(lex)
    if exhaustive or n <= EXHAUSTIVE_BELOW:
        sel = np.arange(n)
        ranked = _top(sel, score_labellings(lp, lex.flat, lex.offsets, sel, 0), topk)
        return [r for r in ranked if r[1] > -math.inf]
    bound = presence_bound(cp, lex)
    likely = bound - LENGTH_WEIGHT * np.abs(np.diff(lex.offsets) - _line_length(probs, lex.blank))
    sel = np.argpartition(-likely, FIRST_BATCH)[:FIRST_BATCH]
    scores = score_labellings(lp, lex.flat, lex.offsets, sel, 0)
    ranked = _top(sel, scores, topk)
    threshold = ranked[-1][1] if len(ranked) == topk else -math.inf
    todo = bound + BOUND_SLACK >= threshold
    todo[sel] = False
    rest = np.flatnonzero(todo)
    if len(rest) > CHUNK:
        rest = rest[np.argsort(-bound[rest], kind="stable")]
    for i in range(0, len(rest), CHUNK):
        chunk = rest[i:i + CHUNK]
        chunk = chunk[bound[chunk] + BOUND_SLACK >= threshold]
        if not len(chunk):
            break  # chunks come in falling bound order
        sel = np.concatenate((sel, chunk))
        scores = np.concatenate((scores, score_labellings(lp, lex.flat, lex.offsets, chunk, 0)))
        ranked = _top(sel, scores, topk)
        threshold = ranked[-1][1] if len(ranked) == topk else -math.inf
    return [r for r in ranked if r[1] > -math.inf]


def _word_decoded(probs: np.ndarray, lex: Lexicon, w: int, alternatives) -> Decoded:
    """Report word ``w`` through its best alignment, like every decoder.

    The Viterbi path runs over the word's columns; each character then takes the class of its
    column that peaks highest over the character's span, so ``labels`` spell the word in the
    case the model read it (``Auto`` for ``AUTO``).
    """
    score, col_path = best_path(safe_log(lex.column_probs(probs)), lex.columns(w), 0)
    if score == -math.inf:
        return Decoded(text=lex.words[w], confidence=0.0, alternatives=alternatives)
    path = np.full(len(col_path), lex.blank, dtype=np.int64)
    cols, spans = collapse(col_path, 0)
    for col, (s, e) in zip(cols, spans):
        g = lex.groups[col]
        path[s:e] = g[np.argmax(probs[s:e, g].max(axis=0))]
    return decoded_from_path(path, probs[np.arange(len(path)), path], lex.charset, lex.blank, lex.words[w],
                             alternatives)


def ctc_lexicon(probs: np.ndarray, charset: Sequence[str], lexicon, blank: int = 0, mode: str = "hard",
                margin: float = DEFAULT_SOFT_MARGIN, case_insensitive: bool = False, topk: int = 1,
                exhaustive: bool = False, beam_width: int = 10, fallback: Optional[Decoded] = None) -> Decoded:
    """Decode one line as the lexicon entry of highest CTC likelihood (forward algorithm).

    ``mode="hard"`` always returns a lexicon entry. ``mode="soft"`` returns it only when its
    log-likelihood is at least the unconstrained best labelling's minus ``margin`` nats (the
    unconstrained labelling is ``fallback`` if given, else ``ctc_beam(probs, beam_width=...)``,
    scored exactly with the forward algorithm); otherwise it returns that unconstrained result,
    so out-of-lexicon text (numbers, names) survives.

    The returned ``text`` is the entry as written in the lexicon; ``labels``, spans and the
    confidence (greedy's formula over the best alignment, as in :func:`ctc_beam`) describe what
    the model read, e.g. ``Auto`` for the entry ``AUTO`` with ``case_insensitive``.

    Args:
        probs: (T, K) class probabilities.
        charset: K symbols, index ``blank`` being the CTC blank.
        lexicon: a :class:`Lexicon` built for this charset (reuse it across lines), or the words.
        blank: index of the blank class.
        mode: ``"hard"`` or ``"soft"``.
        margin: soft mode's tolerance in nats (>= 0).
        case_insensitive: only when ``lexicon`` is a word list; a :class:`Lexicon` keeps its own.
        topk: number of ``(entry, log-likelihood)`` pairs in ``alternatives``.
        exhaustive: score every word (no bound); same result, for tests and timing.
        beam_width: beam of the unconstrained decode in soft mode when no ``fallback`` is given.
        fallback: the unconstrained result soft mode compares with.

    Returns:
        A :class:`Decoded`. If no entry fits the line at all (every word needs more steps than
        there are), hard mode returns empty text with confidence 0.0.

    Raises:
        InputTypeError: bad ``probs`` or word types.
        DecodeOptionError: unknown ``mode``, negative ``margin``, bad ``topk``, a lexicon with no
            spellable word, or a :class:`Lexicon` built for another charset or blank.
    """
    p = check_probs(probs, charset, blank, "ctc_lexicon")
    topk = check_count("topk", topk, "ctc_lexicon")
    if mode not in MODES:
        raise DecodeOptionError(f"ctc_lexicon: mode must be one of {MODES}, got {mode!r}")
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.floating)) or not margin >= 0:
        raise DecodeOptionError(f"ctc_lexicon: margin must be a number of nats >= 0, got {margin!r}")
    lex = lexicon if isinstance(lexicon, Lexicon) else Lexicon(lexicon, charset, blank, case_insensitive)
    if lex.blank != blank or lex.charset != tuple(charset):
        raise DecodeOptionError("ctc_lexicon: the Lexicon was built for another charset or blank index; "
                                "build it with this model's charset")
    ranked = rank_words(p, lex, topk, exhaustive)
    if mode == "soft":
        if fallback is None:
            from .beam import ctc_beam

            fallback = ctc_beam(p, charset, blank, beam_width)
        if not ranked or ranked[0][1] < labelling_log_likelihood(p, fallback.labels, blank) - margin:
            return fallback
    if not ranked:
        return Decoded(text="", confidence=0.0)
    return _word_decoded(p, lex, ranked[0][0], tuple((lex.words[w], s) for w, s in ranked))
