"""CTC decoding: turn per-step class probabilities into text, confidence and spans.

Importing this package imports NumPy only; the Numba kernels load on the first beam or
lexicon decode.
"""
from .api import decode
from .beam import ctc_beam, ctc_beam_ref
from .ctc import ctc_best_path_ref, ctc_log_likelihood_ref
from .filters import apply_char_filter
from .greedy import collapse, ctc_greedy, path_confidence
from .lexicon import Lexicon, ctc_lexicon
from .result import Decoded
from .softmax import log_softmax, softmax

__all__ = [
    "Decoded",
    "Lexicon",
    "apply_char_filter",
    "collapse",
    "ctc_beam",
    "ctc_beam_ref",
    "ctc_best_path_ref",
    "ctc_greedy",
    "ctc_lexicon",
    "ctc_log_likelihood_ref",
    "decode",
    "log_softmax",
    "path_confidence",
    "softmax",
]
