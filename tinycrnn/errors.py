"""Typed errors raised by tinycrnn.

Every class subclasses a builtin as well, so callers' existing ``except ValueError`` /
``except TypeError`` / ``except ImportError`` clauses keep working.
"""


class TinyCRNNError(Exception):
    """Base class of every error tinycrnn raises on purpose."""


class WeightFormatError(TinyCRNNError, ValueError):
    """A model file (or a checkpoint being converted) is malformed, truncated or tampered with."""


class UnsupportedVersionError(WeightFormatError):
    """A model file was written by a newer tinycrnn than this one."""


class UnknownOpError(WeightFormatError):
    """A model file names an op this tinycrnn does not implement."""


class UnsafeCheckpointError(WeightFormatError):
    """A pickled checkpoint references a global outside the state_dict allowlist."""


class ImageError(TinyCRNNError, ValueError):
    """An image could not be read, or is empty, too large, or of an unsupported layout."""


class InputTypeError(TinyCRNNError, TypeError):
    """An argument has the wrong type, dtype or shape."""


class ModelNotFoundError(TinyCRNNError, FileNotFoundError):
    """A model name or path does not resolve to a model file."""


class MissingDependencyError(TinyCRNNError, ImportError):
    """An optional dependency (an extra) is needed for this feature but not installed."""


class DecodeOptionError(TinyCRNNError, ValueError):
    """A decoding option or input is invalid: unknown decoder, bad beam width, empty lexicon,
    a character filter that removes everything, or ``probs`` that are not probabilities."""


class DatasetError(TinyCRNNError, ValueError):
    """An evaluation dataset is missing, unreadable or malformed (``tinycrnn eval``)."""


class OutputFormatError(TinyCRNNError, ValueError):
    """An output format name is unknown, or an output target cannot take the format (``tinycrnn read --format``)."""


class PdfError(TinyCRNNError, ValueError):
    """A PDF cannot be read: not a PDF, encrypted, damaged, without pages, or a page selection that does not fit."""
