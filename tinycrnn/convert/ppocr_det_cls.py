"""PaddleOCR detector and orientation-classifier conventions, written into the manifest.

As RapidOCR 1.4.4 runs ``ch_PP-OCRv4_det`` and ``ch_ppocr_mobile_v2.0_cls`` (its ``config.yaml``;
the ppocr-det-cls model card): OpenCV BGR input, ``(x/255 - 0.5)/0.5``; the detector
scales the short side up to 736 (never down, long side first capped at 2000) and rounds each side
to the nearest multiple of 32; the classifier reads 48 x 192 crops, right-padded with 0.0.
"""
from typing import Any, Dict

PADDLE_DET_CLS_ATTRIBUTION = (
    "PaddlePaddle/PaddleOCR ch_PP-OCRv4_det (mobile) and ch_ppocr_mobile_v2.0_cls "
    "(https://github.com/PaddlePaddle/PaddleOCR), Apache-2.0; ONNX export (paddle2onnx) from RapidAI/RapidOCR, "
    "rapidocr-onnxruntime 1.4.4 wheel, Apache-2.0"
)


def det_manifest_extras() -> Dict[str, Any]:
    """Task, pre-processing and the reference post-processing parameters of the DB detector."""
    return {
        "task": "detect",
        "preprocess": {
            "color": "bgr", "scale": 1.0 / 255.0, "mean": 0.5, "std": 0.5,
            "max_side_len": 2000, "limit_type": "min", "limit_side_len": 736, "multiple": 32,
            "resize": "bilinear", "rounding": "nearest_multiple",
        },
        "decode": {"output": "probs", "method": "db", "thresh": 0.3, "box_thresh": 0.5, "unclip_ratio": 1.6,
                   "max_candidates": 1000, "min_size": 3, "dilate": [2, 2]},
    }


def cls_manifest_extras() -> Dict[str, Any]:
    """Task, labels and pre-processing of the 0/180 line-orientation classifier."""
    return {
        "task": "classify",
        "labels": ["0", "180"],
        "preprocess": {
            "color": "bgr", "height": 48, "width": 192, "resize": "bilinear_ceil", "pad": "constant",
            "pad_value": 0.0, "scale": 1.0 / 255.0, "mean": 0.5, "std": 0.5,
        },
        "decode": {"output": "probs", "flip_label": "180", "thresh": 0.9},
    }
