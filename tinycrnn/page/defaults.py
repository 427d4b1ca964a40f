"""Which models the page pipeline uses by default on this CPU: the page model, the case model, and the rule that
keeps an int8 file only where it is faster than its FP32 twin (:func:`tinycrnn.kernels.int8_is_fast`)."""
from typing import Any, List, Optional, Sequence

from ..errors import ModelNotFoundError

#: The page models tried in order when ``model`` is not given (chosen by benchmarks/eval_pages.py).
DEFAULT_MODELS = ("ppocrv2_zh_int8", "ppocrv2_zh", "english_g2")
#: The case-aware models ``case_model="auto"`` tries for lower-case lines, in order (see ``page/case.py``).
CASE_MODELS = ("english_g2-int8", "english_g2")


def fast_models(names: Sequence[str], backend: Optional[str] = None, int8_fast: Optional[bool] = None) -> List[str]:
    """``names`` without the int8 models that are not faster than their FP32 twins on this CPU
    (:func:`tinycrnn.kernels.int8_is_fast`; ``int8_fast`` overrides it for every name)."""
    from ..config import kernel_backend
    from ..kernels import int8_is_fast

    def keep(name: str) -> bool:
        if not name.replace("-", "_").endswith("_int8"):
            return True
        if int8_fast is not None:
            return int8_fast
        return int8_is_fast(backend or kernel_backend())

    return [n for n in names if keep(n)]


def default_page_model(backend: Optional[str] = None) -> str:
    """The file of the first installed model of :data:`DEFAULT_MODELS` (FP32 ones only where int8 is slow)."""
    from ..engine import resolve_model_path

    for name in fast_models(DEFAULT_MODELS, backend):
        try:
            return resolve_model_path(name)
        except ModelNotFoundError:
            continue
    raise ModelNotFoundError(f"none of the page models {', '.join(DEFAULT_MODELS)} is installed")


def default_recognizer(backend: Optional[str] = None, **decode_options: Any):
    """A Recognizer for :func:`default_page_model`."""
    from ..recognizer import Recognizer

    return Recognizer(default_page_model(backend), backend=backend, **decode_options)
