"""tinycrnn: a tiny CRNN OCR engine for CPUs and edge devices (NumPy + Numba, no PyTorch).

This is the public API. Names resolve lazily so ``import tinycrnn`` stays light: Numba and
OpenCV load on first use, not at import.

    >>> import tinycrnn
    >>> tinycrnn.Recognizer().recognize("samples/hello.png").text  # doctest: +SKIP
    'Hello'
"""
from ._version import __version__
from .errors import (
    ImageError,
    InputTypeError,
    MissingDependencyError,
    ModelNotFoundError,
    TinyCRNNError,
    UnknownOpError,
    UnsafeCheckpointError,
    UnsupportedVersionError,
    WeightFormatError,
)

_LAZY = {
    "load_model": ("engine", "load_model"),
    "Model": ("engine", "Model"),
    "Recognizer": ("recognizer", "Recognizer"),
    "Decoded": ("decode.result", "Decoded"),
    "OCR": ("page.pipeline", "OCR"),
    "Word": ("page.words", "Word"),
}

__all__ = sorted(
    list(_LAZY)
    + [
        "__version__",
        "ImageError",
        "InputTypeError",
        "MissingDependencyError",
        "ModelNotFoundError",
        "TinyCRNNError",
        "UnknownOpError",
        "UnsafeCheckpointError",
        "UnsupportedVersionError",
        "WeightFormatError",
    ]
)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tinycrnn' has no attribute {name!r}")


def __dir__():
    return __all__
