"""ONNX plumbing shared by the importers: the lazy ``onnx`` import, file loading, node attributes and
labels, and charset files (conversion time only; needs the ``convert`` extra)."""
from typing import Any, Dict, List

from ..errors import MissingDependencyError, WeightFormatError


def import_onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise MissingDependencyError(
            "converting ONNX models needs the 'onnx' package: pip install tinycrnn[convert]"
        ) from None
    return onnx, numpy_helper


def load_onnx(path: str):
    """Parse ``path`` with the ``onnx`` package; a corrupt file raises :class:`WeightFormatError`."""
    onnx, _ = import_onnx()
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(path)
    except (DecodeError, ValueError, RuntimeError, TypeError) as exc:
        raise WeightFormatError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})") from None
    if len(model.graph.node) == 0:
        raise WeightFormatError(f"{path}: ONNX graph has no nodes (empty or corrupt file)")
    return model


def attrs(node) -> Dict[str, Any]:
    onnx, _ = import_onnx()
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def label(node) -> str:
    return f"{node.op_type} '{node.name or node.output[0]}'"


def read_charset_lines(path: str) -> List[str]:
    """A one-symbol-per-line charset file, read without ``str.strip``.

    Split on ``\\n`` and remove only a trailing ``\\r`` (CRLF files); a final newline is optional;
    every other character, U+3000 IDEOGRAPHIC SPACE included, is kept. A UTF-8 BOM is dropped.

    Raises:
        WeightFormatError: not UTF-8, or an empty entry (it would collide with the blank).
    """
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WeightFormatError(f"{path}: charset is not UTF-8 ({exc})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] in ("", "\r"):
        lines.pop()
    chars = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    empty = [i + 1 for i, c in enumerate(chars) if c == ""]
    if empty:
        raise WeightFormatError(f"{path}: charset line(s) {empty[:5]} are empty; an empty symbol cannot be represented")
    return chars
