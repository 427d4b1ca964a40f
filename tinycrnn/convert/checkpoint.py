"""Checkpoint -> ``.tcrnn``: pick the reader for the source format, map tensors, write the manifest.

Conversion-time code only; ``import tinycrnn`` never imports it.
"""
import hashlib
import os
from typing import Any, Dict, Optional

from .._version import __version__
from ..errors import WeightFormatError
from ..modelfile import write_model


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def convert_checkpoint(
    src: str,
    dst: str,
    name: Optional[str] = None,
    license_name: str = "Apache-2.0",
    attribution: str = "EasyOCR by JaidedAI (https://github.com/JaidedAI/EasyOCR), Apache-2.0",
) -> Dict[str, Any]:
    """Convert ``src`` (an EasyOCR ``.pth``) into the model file ``dst``.

    Args:
        src: the source checkpoint.
        dst: the ``.tcrnn`` file to write.
        name: model name recorded in the manifest (default: the source file stem).
        license_name: the licence recorded under ``producer.license``.
        attribution: who made the weights, recorded under ``producer.attribution``.

    Returns:
        The manifest that was written.

    Raises:
        WeightFormatError: unreadable, unsafe or unrecognised checkpoint.
    """
    ext = os.path.splitext(src)[1].lower()
    if ext in (".pth", ".pt"):
        from .easyocr import convert_easyocr_vgg, english_g2_manifest_extras
        from .pth import read_pth, strip_prefix

        state = strip_prefix(read_pth(src))
        tensors, arch = convert_easyocr_vgg(state)
        extras = english_g2_manifest_extras()
    else:
        raise WeightFormatError(f"{src}: unsupported checkpoint type {ext!r}; expected a PyTorch .pth")
    manifest: Dict[str, Any] = {
        "name": name or os.path.splitext(os.path.basename(src))[0],
        "producer": {
            "tool": "tools/convert_weights.py",
            "tinycrnn": __version__,
            "source": os.path.basename(src),
            "source_sha256": sha256_of(src),
            "license": license_name,
            "attribution": attribution,
        },
        "arch": arch,
        **extras,
    }
    write_model(dst, tensors, manifest)
    return manifest
