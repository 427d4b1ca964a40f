"""Read many line crops of one page with a Recognizer: split, bucket by width, batch, recover.

* Long crops are cut at word gaps into pieces at most ``max_ratio`` heights wide (PP-OCRv2 was
  trained on 32x320 lines and drops text on longer inputs).
* Pieces are sorted by resized width and batched with neighbours of similar width; each batch is
  padded to its widest piece plus ``right_margin`` columns, so no piece touches the right edge
  (the widest crop of a PP-OCRv2 batch without right padding comes back truncated).
* PP-OCRv2's squeeze-and-excitation layers average over the whole padded line, and PaddleOCR pads lines to
  320 px: a short line with little padding gets other channel gates than it was trained with. With
  ``squeeze_width`` those means count blank columns up to that width without computing them
  (:meth:`tinycrnn.engine.Model.forward`), and a 24-column margin then reads scans better than 64 did.
* A piece whose decoded text starts well after its first ink (PP-OCRv2 drops everything before
  the last comma of a line) has the unread prefix read again on its own and prepended.
"""
import dataclasses
import math
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ..preprocess import pad_lines, resize_line
from ..recognizer import CONFIDENCE_RULES
from .split import erase_commas, gap_runs, ink_columns, insert_commas, restore_commas, split_crop
from .words import Token, tokens_of


#: Right margin of pieces read with ``squeeze_width`` (columns). SROIE dev scans, token F1 (``python -m
#: benchmarks.eval_pages --data SROIE_SCANS --half even|odd --right-margin N``): even pages 0.9128 at 64
#: columns with plain means -> 0.9150 / 0.9173 / 0.9173 / 0.9183 at 8 / 16 / 24 / 32; odd (held-out-like) 0.9017 ->
#: 0.9034 / 0.9032 / 0.9073 / 0.9079 (benchmarks/RESULTS.md).
SQUEEZED_MARGIN = 24


class LineRead(NamedTuple):
    """One crop as read: ``text``, ``confidence``, and every decoded token (dropped ones too) with its
    characters' confidences and crop columns, which place the word boxes (:mod:`~tinycrnn.page.words`)."""

    text: str
    confidence: float
    tokens: List[Token]


class LineReader:
    """Batch line recognition for the page pipeline.

    Args:
        recognizer: a :class:`tinycrnn.Recognizer` (uses its ``spec``, ``model`` and ``decode``).
        max_ratio: longest piece, in heights, before a crop is split at gaps (0 = never split).
        right_margin: padding columns after every piece (None: :data:`SQUEEZED_MARGIN` with ``squeeze_width``, else
            the model's own margin, at least 64 for zero-padded models).
        squeeze_width: squeeze-and-excitation means as if each batch were blank-padded to this width (None: the
            model's ``min_width`` for zero-padded models with such layers, PP-OCRv2's 320; 0: off).
        batch_size: most pieces per forward pass.
        bucket: pieces share a batch while the widest is at most ``bucket`` times the narrowest.
        recover: re-read unread prefixes (see module doc), at most this many times per piece.
        x_scale: squeeze pieces horizontally by this factor before recognition (fewer columns, faster).
        min_token_score: whitespace tokens whose mean character confidence is lower are dropped.
        beam_width: CTC prefix beam width for pieces (1 = greedy), used only when the recogniser has no
            decoder options of its own (a caller's ``decoder``/``lexicon``/... choice wins).
        commas: turn ``.`` into ``,`` where the glyph has a comma's tail (:func:`~.split.restore_commas`),
            and read lines with their commas painted out, putting them back afterwards
            (:func:`~.split.erase_commas`: PP-OCRv2 drops everything before a line's last comma).
    """

    def __init__(self, recognizer, max_ratio: float = 10.0, right_margin: Optional[int] = None,
                 batch_size: int = 16, bucket: float = 1.3, recover: int = 3, x_scale: float = 1.0,
                 min_token_score: float = 0.0, commas: bool = True, beam_width: int = 1,
                 squeeze_width: Optional[int] = None):
        self.rec = recognizer
        own = bool(getattr(recognizer, "decode_options", None))
        self.decode_options = {"decoder": "beam", "beam_width": int(beam_width)} if beam_width > 1 and not own else {}
        self.spec = recognizer.spec
        self.model = recognizer.model
        self.max_ratio = max_ratio
        if squeeze_width is None:
            squeezes = any(hasattr(op, "padded") for op in getattr(self.model, "ops", ()))
            squeeze_width = int(self.spec.min_width) if squeezes and self.spec.pad == "constant" else 0
        self.squeeze_width = int(squeeze_width)
        if right_margin is None:
            right_margin = (SQUEEZED_MARGIN if self.squeeze_width else
                            max(int(self.spec.right_margin), 64 if self.spec.pad == "constant" else 0))
        self.right_margin = right_margin
        self.batch_size = batch_size
        self.bucket = bucket
        self.recover = recover
        self.x_scale = x_scale
        self.min_token_score = min_token_score
        self.commas = commas
        # NOTE: 2.8 x the median pitch measured best on SROIE dev pages (2.6-3.0: token F1 0.853 -> 0.860)
        self.space_gap = 2.8
        #: a space is only inserted where the crop shows a word gap (:class:`_WordGaps`) between the two characters
        self.space_check = True
        self.forward_ms = 0.0
        self.decode_ms = 0.0

    def _widths(self, x: np.ndarray) -> int:
        w = x.shape[2] + self.right_margin
        w = max(w, int(self.model.min_width))
        m = self.spec.width_multiple
        return -(-w // m) * m

    def _run(self, pieces: Sequence[np.ndarray]) -> List[tuple]:
        """Recognise pieces; per piece (text, confidence, spans, padded width, T, [Token] with piece columns)."""
        import time

        cleaned = [erase_commas(p) if self.commas else (p, []) for p in pieces]
        xs = [resize_line(self._squeeze(p), self.spec, self.model.backend) for p, _ in cleaned]
        widths = [self._widths(x) for x in xs]
        order = sorted(range(len(xs)), key=lambda i: widths[i])
        out: List[Optional[tuple]] = [None] * len(xs)
        start = 0
        while start < len(order):
            stop = start + 1
            while (stop < len(order) and stop - start < self.batch_size
                   and widths[order[stop]] <= self.bucket * widths[order[start]]):
                stop += 1
            idx = order[start:stop]
            W = widths[idx[-1]]
            t0 = time.perf_counter()
            batch = pad_lines([xs[i] for i in idx], W, self.spec)
            y = self.model.forward(batch, self.squeeze_width) if self.squeeze_width else self.model.forward(batch)
            t1 = time.perf_counter()
            if self.model.output_kind != "probs":
                from ..decode import softmax

                y = softmax(y)
            for j, i in enumerate(idx):
                # NOTE: drop the steps that only saw padding beyond this piece's own margin
                T = y.shape[1]
                keep = min(T, int(math.ceil(T * min(W, widths[i]) / W)))
                d = self._decode(y[j, :keep])
                text, spans = d.text, d.spans
                conf = list(d.char_confidences)
                cols_per_step = W / float(T) * pieces[i].shape[1] / float(xs[i].shape[2])
                if self.commas:
                    text = restore_commas(pieces[i], text, spans, cols_per_step)
                    text, conf, spans = insert_commas(text, conf, spans, cols_per_step, cleaned[i][1])
                if self.space_gap > 0 and len(text) == len(spans):
                    blank = _WordGaps(pieces[i], cols_per_step) if self.space_check else None
                    text, conf, spans = insert_spaces(text, conf, spans, self.space_gap, blank, self.min_token_score)
                at = [(a + b) / 2.0 * cols_per_step for a, b in spans] if len(spans) == len(text) else None
                out[i] = (text, float(d.confidence), spans, W, T, tokens_of(text, conf, at))
            self.forward_ms += (t1 - t0) * 1000
            self.decode_ms += (time.perf_counter() - t1) * 1000
            start = stop
        return out  # type: ignore[return-value]

    def _decode(self, probs: np.ndarray):
        """The recogniser's decode of one piece's (T, K) probabilities; a beam runs on the classes it can use.

        The prefix beam only ever extends a prefix with a class whose probability reaches the beam's
        ``prune`` at that step, so every other column of the 6625-class PP-OCRv2 output is dead weight
        to it: the beam gets the blank and the classes that reach ``prune`` somewhere in the line (a few
        dozen), in class order (its tie-breaking by class index is kept), and returns the same text,
        spans and confidences, measured 3-5x faster than on the full matrix.
        """
        if self.decode_options.get("decoder") != "beam" or self.rec.confidence_rule not in CONFIDENCE_RULES:
            return self.rec.decode(probs, **self.decode_options)
        from ..config import backend_scope
        from ..decode.beam import DEFAULT_PRUNE, ctc_beam

        blank = int(self.model.blank_index)
        live = probs.max(axis=0) >= DEFAULT_PRUNE
        live[blank] = True
        cols = np.flatnonzero(live)
        sub = np.ascontiguousarray(probs[:, cols])
        charset = [self.model.charset[c] for c in cols.tolist()]
        with backend_scope(self.model.backend):
            res = ctc_beam(sub, charset, int(np.searchsorted(cols, blank)), self.decode_options["beam_width"])
        if self.rec.confidence_rule == "mean_max_prob":
            first = [float(sub[s, k]) for k, (s, _) in zip(res.labels, res.spans)]
            res = dataclasses.replace(res, confidence=sum(first) / len(first) if first else 0.0)
        return dataclasses.replace(res, labels=tuple(int(cols[k]) for k in res.labels))

    def _squeeze(self, piece: np.ndarray) -> np.ndarray:
        if self.x_scale == 1.0:
            return piece
        import cv2

        h, w = piece.shape[:2]
        return cv2.resize(piece, (max(1, int(round(w * self.x_scale))), h), interpolation=cv2.INTER_AREA)

    def _unread_prefix(self, piece: np.ndarray, res) -> int:
        """Column of ``piece`` up to which ink was not read (0 when the text starts at the ink)."""
        text, _, spans, W, T = res[:5]
        h, w = piece.shape[:2]
        first = next((s for s, ch in zip(spans, text) if not ch.isspace()), None) if len(spans) == len(text) else None
        if first is None and text.strip():
            return 0
        import cv2

        gray = piece if piece.ndim == 2 else cv2.cvtColor(piece, cv2.COLOR_BGR2GRAY)
        cols = ink_columns(gray)
        ink = np.flatnonzero(cols)
        if ink.size == 0:
            return 0
        scale = w / float(math.ceil(self.spec.height * w * self.x_scale / float(h)) or 1)  # crop columns per resized column
        start_col = w if first is None else (first[0] * W / float(T)) * scale
        if start_col - ink[0] < 1.5 * h:
            return 0
        # cut in the last gap before the first read character
        c = int(start_col)
        while c > ink[0] and cols[min(c, w - 1)]:
            c -= 1
        return c if c - ink[0] >= 0.5 * h else 0

    def read(self, crops: Sequence[np.ndarray]) -> List[Tuple[str, float]]:
        """uint8 line crops -> (text, confidence) per crop, in input order."""
        return [(r.text, r.confidence) for r in self.read_lines(crops)]

    def read_lines(self, crops: Sequence[np.ndarray]) -> List[LineRead]:
        """uint8 line crops -> a :class:`LineRead` per crop (tokens with crop columns), in input order."""
        pieces: List[np.ndarray] = []
        owner: List[int] = []
        offset: List[int] = []
        for k, c in enumerate(crops):
            parts = split_crop(c, self.max_ratio) if self.max_ratio > 0 else [c]
            pieces += parts
            owner += [k] * len(parts)
            offset += [int(x) for x in np.cumsum([0] + [p.shape[1] for p in parts[:-1]])]  # pieces are contiguous
        if not pieces:
            return []
        results = self._run(pieces)
        toks = [list(r[5]) for r in results]
        confs = [r[1] for r in results]
        todo = list(range(len(pieces)))
        prefix_of = {i: (i, pieces[i], results[i]) for i in todo}
        for _ in range(self.recover):
            jobs = []
            for i in todo:
                _, piece, res = prefix_of[i]
                cut = self._unread_prefix(piece, res)
                if cut:
                    jobs.append((i, piece[:, :cut]))
            if not jobs:
                break
            again = self._run([p for _, p in jobs])
            todo = []
            for (i, p), res in zip(jobs, again):
                if res[0].strip():
                    toks[i] = list(res[5]) + toks[i]
                    confs[i] = min(confs[i], res[1])
                    prefix_of[i] = (i, p, res)
                    todo.append(i)
        out: List[LineRead] = [LineRead("", 1.0, []) for _ in crops]
        for i, k in enumerate(owner):
            # NOTE: tokens the model is unsure of are mostly junk read from logos, stamps, rules and
            # Chinese-looking noise; dropping them raises page precision far more than it costs recall
            mine = [Token(t.text, t.score, t.confs, [x + offset[i] for x in t.xs], t.score >= self.min_token_score)
                    for t in toks[i]]
            t = " ".join(tok.text for tok in mine if tok.kept)
            prev = out[k]
            out[k] = LineRead((prev.text + " " + t).strip() if prev.text else t,
                              min(prev.confidence, confs[i]) if t else prev.confidence, prev.tokens + mine)
        return [r if r.text else r._replace(confidence=0.0) for r in out]


class _WordGaps:
    """``gaps(a, b)``: whether the piece shows a word gap (a run of ink-free columns at least
    ``split.split_points``'s ``min_gap`` = 0.3 heights wide, the gap that separates words) between CTC
    steps ``a`` and ``b``. Ink columns are found on the first call only."""

    MIN_GAP = 0.3

    def __init__(self, piece: np.ndarray, cols_per_step: float):
        self.piece, self.cps, self.runs = piece, cols_per_step, None

    def __call__(self, a: float, b: float) -> bool:
        if self.runs is None:
            import cv2

            g = self.piece if self.piece.ndim == 2 else cv2.cvtColor(self.piece, cv2.COLOR_BGR2GRAY)
            h = g.shape[0]
            self.runs = [(s, e) for s, e in gap_runs(ink_columns(g)) if e - s >= self.MIN_GAP * h]
        lo, hi = a * self.cps, b * self.cps
        need = self.MIN_GAP * self.piece.shape[0]
        return any(min(e, hi) - max(s, lo) >= need for s, e in self.runs)


def insert_spaces(text: str, conf: List[float], spans, gap: float, blank=None, sure: float = 0.0):
    """Put a space where two consecutive ASCII characters are ``gap`` times the line's median
    character pitch apart (in CTC steps) and the model emitted none: PP-OCRv2 drops many word
    spaces in Latin text. CJK text, written without spaces, is never touched. With ``blank``
    (a callable of two step positions), the space also needs ``blank(centre_before, centre_after)``:
    CTC peaks of one word can sit far apart (``Q TY``, ``D ATE``, ``U .PRICE`` on SROIE receipts)
    where the print shows no gap at all. Next to a character read with a confidence under ``sure`` the
    space goes in without that check: it is most often a stray mark at the line's edge (``C43300``), and
    a token of its own lets ``min_token_score`` drop it.

    Returns ``(text, conf, spans)`` with one confidence and span per character (an inserted space
    takes the span of the character after it), so later steps can still locate every character.
    """
    starts = [s for s, _ in spans]
    pitches = [b - a for a, b in zip(starts, starts[1:])]
    if len(pitches) < 3:
        return text, list(conf), list(spans)
    pitch = float(np.median(pitches))
    out, oc, sp = [text[0]], [conf[0]], [spans[0]]
    for k in range(1, len(text)):
        a, b = text[k - 1], text[k]
        if (starts[k] - starts[k - 1] >= gap * pitch and a.isascii() and b.isascii() and not (a.isspace() or b.isspace())
                and (blank is None or min(conf[k - 1], conf[k]) < sure
                     or blank(sum(spans[k - 1]) / 2.0, sum(spans[k]) / 2.0))):
            out.append(" ")
            oc.append(1.0)
            sp.append(spans[k])
        out.append(text[k])
        oc.append(conf[k])
        sp.append(spans[k])
    return "".join(out), oc, sp

