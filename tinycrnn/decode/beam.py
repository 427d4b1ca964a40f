"""CTC prefix beam search: the most probable labelling summed over all its alignments.

Greedy decoding scores one path; a labelling's probability is the sum over every path that
collapses to it, and the two can disagree. This module searches labellings (prefix beam
search in log space, with per-step class pruning); it does not constrain them to a lexicon
(``lexicon.py`` does).
"""
import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..config import kernel_backend
from ..errors import DecodeOptionError
from .checks import check_count, check_probs
from .ctc import aligned_decoded
from .result import Decoded

#: Default per-step pruning: non-blank classes below this probability never extend a prefix.
DEFAULT_PRUNE = 1e-3
#: Default cap on the classes that may extend prefixes at one step (the most probable ones).
DEFAULT_MAX_CANDIDATES = 16


def _logaddexp(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b == -math.inf:
        return a
    return a + math.log1p(math.exp(b - a))


def _log(p: float) -> float:
    return math.log(p) if p > 0.0 else -math.inf


def select_candidates_ref(probs: np.ndarray, blank: int, threshold: float,
                          max_candidates: int) -> List[List[int]]:
    """Per step, the classes allowed to extend a prefix: non-blank, ``p >= threshold`` and
    ``p > 0``, most probable first (ties: lower class first), at most ``max_candidates``."""
    out = []
    for row in probs.tolist():
        ks = [k for k, p in enumerate(row) if k != blank and p >= threshold and p > 0.0]
        ks.sort(key=lambda k: (-row[k], k))
        out.append(ks[:max_candidates])
    return out


def prefix_beam_ref(probs: np.ndarray, blank: int, candidates: Sequence[Sequence[int]],
                    beam_width: int) -> List[Tuple[Tuple[int, ...], float]]:
    """Dict-based prefix beam search, the obviously-correct twin of ``_beam_kernel.prefix_beam``.

    Args:
        probs: (T, K) class probabilities.
        blank: index of the blank class.
        candidates: per step, the classes that may extend a prefix (all non-blank classes = no
            pruning). A prefix's own last label is always scored for staying on that prefix.
        beam_width: prefixes kept after every step.

    Returns:
        ``[(labels, log_score), ...]`` for the final beam, best first (ties: smaller labels first),
        entries with score ``-inf`` dropped.
    """
    beams = {(): (0.0, -math.inf)}  # prefix -> (log P ending in blank, log P ending in last label)
    for t, row in enumerate(probs.tolist()):
        lblank = _log(row[blank])
        new = {}
        for prefix, (pb, pnb) in beams.items():
            ptot = _logaddexp(pb, pnb)
            b, nb = new.get(prefix, (-math.inf, -math.inf))
            b = _logaddexp(b, ptot + lblank)
            if prefix:
                nb = _logaddexp(nb, pnb + _log(row[prefix[-1]]))
            new[prefix] = (b, nb)
            for c in candidates[t]:
                ext = prefix + (c,)
                b2, nb2 = new.get(ext, (-math.inf, -math.inf))
                src = pb if prefix and prefix[-1] == c else ptot
                new[ext] = (b2, _logaddexp(nb2, src + _log(row[c])))
        beams = dict(sorted(new.items(), key=lambda kv: -_logaddexp(*kv[1]))[:beam_width])
    ranked = [(prefix, _logaddexp(*s)) for prefix, s in beams.items()]
    return sorted([r for r in ranked if r[1] > -math.inf], key=lambda r: (-r[1], r[0]))


def _prefix_beam_numba(p: np.ndarray, blank: int, beam_width: int, prune: float,
                       n_cand: int) -> List[Tuple[Tuple[int, ...], float]]:
    from . import _beam_kernel as kern  # NOTE: lazy, so `import tinycrnn.decode` does not import numba
    from ..kernels.compile_events import announce_compiles

    announce_compiles()

    T = p.shape[0]
    cand = np.empty((T, max(n_cand, 1)), dtype=np.int32)
    ncand = np.zeros(T, dtype=np.int32)
    kern.select_candidates(p, blank, float(prune), cand, ncand)
    # Workspace sizes from the beam's growth bound: at most nb * ncand[t] new nodes per step.
    nodes, nb, touched_max = 1, 1, 1
    for c in ncand.tolist():
        nodes += nb * c
        touched_max = max(touched_max, nb * (c + 1))
        nb = min(beam_width, nb * (c + 1))
    keep = min(beam_width, touched_max)
    i32, f64 = np.int32, np.float64
    parent, label, first_child, next_sibling, stamp = (np.empty(nodes, i32) for _ in range(5))
    pb_new, pnb_new = np.empty(nodes, f64), np.empty(nodes, f64)
    touched, score = np.empty(touched_max, i32), np.empty(touched_max, f64)
    heap, beam_node = np.empty(keep, i32), np.empty(keep, i32)
    beam_pb, beam_pnb = np.empty(keep, f64), np.empty(keep, f64)
    lcand = np.empty(max(n_cand, 1), f64)
    m = kern.prefix_beam(p, blank, cand, ncand, beam_width, parent, label, first_child, next_sibling, stamp,
                         pb_new, pnb_new, touched, score, heap, lcand, beam_node, beam_pb, beam_pnb)
    ranked = []
    for n, s in zip(beam_node[:m].tolist(), np.logaddexp(beam_pb[:m], beam_pnb[:m]).tolist()):
        if s == -math.inf:
            continue
        labels = []
        while n > 0:
            labels.append(int(label[n]))
            n = int(parent[n])
        ranked.append((tuple(reversed(labels)), s))
    return sorted(ranked, key=lambda r: (-r[1], r[0]))


def _result(p: np.ndarray, charset: Sequence[str], blank: int, ranked, topk: int) -> Decoded:
    alternatives = tuple(("".join(charset[k] for k in labels), score) for labels, score in ranked[:topk])
    if not ranked:
        return Decoded(text="", confidence=0.0)
    return aligned_decoded(p, charset, ranked[0][0], blank, alternatives=alternatives)


def ctc_beam(probs: np.ndarray, charset: Sequence[str], blank: int = 0, beam_width: int = 10, topk: int = 1,
             prune: float = DEFAULT_PRUNE, max_candidates: Optional[int] = DEFAULT_MAX_CANDIDATES) -> Decoded:
    """Decode one line with CTC prefix beam search (log space, merged prefixes, pruned classes).

    At every step each kept prefix may be extended only by the step's candidate classes: the
    non-blank classes with probability ``>= prune``, at most ``max_candidates`` of them, most
    probable first. The blank, and each prefix's own last label (staying on the prefix), are
    always scored. ``prune=0, max_candidates=None`` disables pruning; with a beam wide enough to
    hold every prefix the search is then exact.

    Confidence, ``char_confidences`` and ``spans`` come from the best alignment (Viterbi path) of
    the chosen labelling, with greedy's formula ``prod(m) ** (2 / sqrt(len(m)))`` over the
    probability of the aligned class at every non-blank step of that path. When the beam's text
    equals greedy's, the numbers are greedy's.

    Args:
        probs: (T, K) class probabilities (rows sum to 1), float32 or float64.
        charset: K symbols, index ``blank`` being the CTC blank.
        blank: index of the blank class.
        beam_width: prefixes kept after every step (>= 1).
        topk: how many labellings to report in ``alternatives`` (>= 1).
        prune: per-step probability below which a class never extends a prefix, in [0, 1).
        max_candidates: at most this many classes extend prefixes per step; ``None`` = no cap.

    Returns:
        A :class:`Decoded`: the best labelling, its confidence/spans, and ``alternatives`` = up to
        ``topk`` ``(text, log_score)`` pairs, best first. ``log_score`` is the beam's sum over the
        alignments it kept: the exact log P(text | x) when nothing was pruned, a lower bound
        otherwise.

    Raises:
        InputTypeError: ``probs`` is not a (T, K) float array.
        DecodeOptionError: bad ``blank``, ``beam_width``, ``topk``, ``prune`` or
            ``max_candidates``, or ``probs`` that are not probabilities.

    Example:
        >>> import numpy as np
        >>> p = np.array([[.5, .3, .2], [.5, .3, .2]])
        >>> ctc_beam(p, ["", "a", "b"]).text  # greedy reads "": P("") = .25 < P("a") = .39
        'a'
    """
    p = check_probs(probs, charset, blank, "ctc_beam")
    beam_width = check_count("beam_width", beam_width, "ctc_beam")
    topk = check_count("topk", topk, "ctc_beam")
    n_cand = _check_pruning(prune, max_candidates, p.shape[1])
    if kernel_backend() == "numpy":
        ranked = prefix_beam_ref(p, blank, select_candidates_ref(p, blank, prune, n_cand), beam_width)
    else:
        ranked = _prefix_beam_numba(p, blank, beam_width, prune, n_cand)
    return _result(p, charset, blank, ranked, topk)


def ctc_beam_ref(probs: np.ndarray, charset: Sequence[str], blank: int = 0, beam_width: int = 10,
                 topk: int = 1) -> Decoded:
    """Slow pure-Python prefix beam search without pruning: the reference ``ctc_beam`` is tested
    against. Same arguments, result and errors as :func:`ctc_beam` minus the pruning options."""
    p = check_probs(probs, charset, blank, "ctc_beam_ref")
    beam_width = check_count("beam_width", beam_width, "ctc_beam_ref")
    topk = check_count("topk", topk, "ctc_beam_ref")
    every = [k for k in range(p.shape[1]) if k != blank]
    ranked = prefix_beam_ref(p, blank, [every] * p.shape[0], beam_width)
    return _result(p, charset, blank, ranked, topk)


def _check_pruning(prune: float, max_candidates: Optional[int], n_classes: int) -> int:
    """Validate the pruning options; return the per-step candidate cap as an int."""
    if isinstance(prune, bool) or not isinstance(prune, (int, float, np.floating)) or not 0.0 <= prune < 1.0:
        raise DecodeOptionError(f"ctc_beam: prune must be a probability in [0, 1), got {prune!r}; 0 disables it")
    if max_candidates is None:
        return max(n_classes - 1, 0)
    return min(check_count("max_candidates", max_candidates, "ctc_beam"), max(n_classes - 1, 0))
