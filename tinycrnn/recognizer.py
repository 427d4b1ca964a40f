"""Recognizer: text-line images in, text with confidences out.

Lines are bucketed by their padded width so each forward pass batches lines that would be
padded identically on their own: a line's result never depends on what it was batched with.
"""
import dataclasses
import os
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from .decode import Decoded, ctc_greedy, softmax
from .config import backend_scope
from .errors import InputTypeError, WeightFormatError
from .image_io import MAX_PIXELS, ImageSource, load_image
from .preprocess import LineSpec, line_ratio, pad_lines, resize_line, target_width

DEFAULT_BATCH_SIZE = 8
#: Line-confidence rules a model file may name (docs/DECODING.md): EasyOCR's, PaddleOCR's.
CONFIDENCE_RULES = ("prod_max_prob_pow_2_over_sqrt_n", "mean_max_prob")


class Recognizer:
    """Reads single text lines.

    Args:
        model: a shipped model name (``"english_g2"``), a ``.tcrnn`` path, or a loaded ``Model``.
        backend: ``"numba"`` (default) or ``"numpy"`` (reference kernels).
        batch_size: most lines per forward pass.
        max_pixels: images above this many pixels are refused.
        decode_options: default options for the decoder (see :meth:`decode`), e.g.
            ``decoder="beam"``, ``beam_width``, ``lexicon``, ``allowlist``, ``blocklist``, ``topk``.

    Example:
        >>> from tinycrnn import Recognizer
        >>> r = Recognizer()
        >>> r.recognize("samples/hello_world.png").text  # doctest: +SKIP
        'Hello World'
    """

    def __init__(
        self,
        model: Union[str, os.PathLike, Any] = "english_g2",
        backend: Optional[str] = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_pixels: int = MAX_PIXELS,
        **decode_options: Any,
    ):
        from .engine import Model, load_model

        self.model = model if isinstance(model, Model) else load_model(model, backend=backend)
        if self.model.task != "recognize":
            raise InputTypeError(f"{self.model.name} is a {self.model.task} model, not a line recogniser; "
                                 "load it with tinycrnn.load_model")
        self.spec = LineSpec.from_manifest(self.model.manifest)
        self.confidence_rule = self.model.manifest["decode"].get("confidence", CONFIDENCE_RULES[0])
        if self.confidence_rule not in CONFIDENCE_RULES:
            raise WeightFormatError(
                f"{self.model.name}: decode.confidence {self.confidence_rule!r} unknown; known: {', '.join(CONFIDENCE_RULES)}"
            )
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InputTypeError(f"batch_size must be a positive int, got {batch_size!r}")
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.decode_options: Dict[str, Any] = self._compile_lexicon(dict(decode_options))
        if self.decode_options:
            self.decode(np.full((1, len(self.model.charset)), 1.0 / len(self.model.charset)), **self.decode_options)

    @property
    def charset(self) -> List[str]:
        return self.model.charset

    def load(self, image: ImageSource) -> np.ndarray:
        """Load and validate one image in the model's colour layout (uint8)."""
        return load_image(image, self.spec.color, max_pixels=self.max_pixels)

    def recognize(self, image: ImageSource, **decode_options: Any) -> Decoded:
        """Read one text line.

        Args:
            image: a path, encoded image bytes, or a uint8 numpy image (gray, BGR or BGRA).
            **decode_options: per-call decoder options overriding the recognizer's defaults.

        Returns:
            A :class:`~tinycrnn.decode.Decoded` with ``text``, ``confidence``, ``char_confidences``
            and ``spans``.

        Raises:
            ImageError: the image cannot be read or is empty/too large.
            InputTypeError: an unsupported input type.
        """
        return self.recognize_batch([image], **decode_options)[0]

    def recognize_batch(self, images: Sequence[ImageSource], **decode_options: Any) -> List[Decoded]:
        """Read many text lines, batching those that share a padded width; results keep input order."""
        if isinstance(images, (str, bytes, np.ndarray)):
            raise InputTypeError("recognize_batch expects a sequence of images; use recognize() for one")
        loaded = [self.load(img) for img in images]
        return [self.decode(p, **decode_options) for p in self.probabilities(loaded)]

    def prepare(self, image: np.ndarray):
        """Resize and normalise one loaded uint8 line; returns ``(x (C, H, w) float32, padded width)``.

        Lines with the same padded width can share a forward pass without changing each other's result.
        """
        x = resize_line(image, self.spec, self.model.backend)
        return x, target_width([line_ratio(image, self.spec)], [x.shape[2]], self.spec)

    def run_group(self, lines: Sequence[np.ndarray], width: int) -> np.ndarray:
        """One forward pass over prepared lines that share ``width``; returns (B, T, K) probabilities."""
        y = self.model.forward(pad_lines(lines, width, self.spec))
        return y if self.model.output_kind == "probs" else softmax(y)

    def probabilities(self, images: Sequence[np.ndarray]) -> List[np.ndarray]:
        """Per-line class probabilities (T_i, K) for already loaded uint8 images, in input order."""
        prepared = [self.prepare(img) for img in images]
        out: List[Optional[np.ndarray]] = [None] * len(images)
        for idx in group_by_width([w for _, w in prepared], self.batch_size):
            probs = self.run_group([prepared[i][0] for i in idx], prepared[idx[0]][1])
            for j, i in enumerate(idx):
                out[i] = probs[j]
        return out  # type: ignore[return-value]

    def _compile_lexicon(self, opts: Dict[str, Any]) -> Dict[str, Any]:
        """Turn a word list into a :class:`~tinycrnn.decode.Lexicon` once, not once per line."""
        words = opts.get("lexicon")
        if words is not None and not isinstance(words, str):
            from .decode import Lexicon

            if not isinstance(words, Lexicon):
                opts["lexicon"] = Lexicon(list(words), self.model.charset, blank=self.model.blank_index,
                                          case_insensitive=bool(opts.pop("case_insensitive", False)))
        return opts

    def decode(self, probs: np.ndarray, **decode_options: Any) -> Decoded:
        """Decode one line's (T, K) probabilities with the recognizer's decoder options."""
        opts = {**self.decode_options, **self._compile_lexicon(dict(decode_options))}
        with backend_scope(self.model.backend):
            if not opts or opts == {"decoder": "greedy"}:
                res = ctc_greedy(probs, self.model.charset, self.model.blank_index)
            else:
                from .decode import decode

                res = decode(probs, self.model.charset, blank=self.model.blank_index, **opts)
        if self.confidence_rule == "mean_max_prob":
            # NOTE: PaddleOCR's rule: mean probability at the first step of each character's span
            first = [float(probs[s, k]) for k, (s, _) in zip(res.labels, res.spans)]
            res = dataclasses.replace(res, confidence=sum(first) / len(first) if first else 0.0)
        return res


def group_by_width(widths: Sequence[int], batch_size: int) -> List[List[int]]:
    """Indices grouped by equal padded width, each group at most ``batch_size`` long, narrowest first."""
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    groups: List[List[int]] = []
    for i in order:
        if groups and widths[groups[-1][0]] == widths[i] and len(groups[-1]) < batch_size:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups
