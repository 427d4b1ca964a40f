"""The result of decoding one line: what every decoder returns."""
from dataclasses import dataclass, field
from typing import List, Tuple


@dataclass(frozen=True)
class Decoded:
    """One decoded line.

    Attributes:
        text: the decoded string.
        confidence: line confidence, EasyOCR's formula ``prod(m) ** (2 / sqrt(len(m)))`` over
            the per-step maximum probabilities ``m`` of every non-blank step on the decoded path
            (0.0 for an empty path); see ``docs/DECODING.md``.
        labels: class index of each output character (blank excluded).
        char_confidences: per output character, the highest probability the character's class
            reached over the time steps it spans.
        spans: per output character, the half-open time-step range ``(start, end)`` it covers.
        alternatives: other candidate strings with their scores (log-probabilities), best first;
            empty for greedy decoding unless asked for.
    """

    text: str
    confidence: float
    labels: Tuple[int, ...] = ()
    char_confidences: Tuple[float, ...] = ()
    spans: Tuple[Tuple[int, int], ...] = ()
    alternatives: Tuple[Tuple[str, float], ...] = field(default_factory=tuple)
