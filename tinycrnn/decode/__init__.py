"""CTC decoding: turn per-step class probabilities into text, confidence and spans."""
from .greedy import collapse, ctc_greedy, path_confidence
from .result import Decoded
from .softmax import log_softmax, softmax

__all__ = ["Decoded", "collapse", "ctc_greedy", "log_softmax", "path_confidence", "softmax"]
