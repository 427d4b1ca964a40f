"""Accuracy measurement (``tinycrnn eval``): datasets on disk, protocols and metrics, runners.

Importing this package imports no model code; runners take a Recognizer or a page reader.
"""
from .datasets import Dataset, LineItem, PageItem, PageLine, crop_lines, open_dataset, read_labels, read_pages, read_tsv
from .metrics import (
    PROTOCOLS,
    Confusions,
    PageScore,
    box_iou,
    cer,
    edit_distance,
    edit_ops,
    match_boxes,
    normalize,
    page_tokens,
    prf,
    score_page,
)
from .runner import EvalResult, evaluate_lines, evaluate_page_crops, evaluate_pages, get_page_reader

__all__ = [
    "PROTOCOLS", "Confusions", "Dataset", "EvalResult", "LineItem", "PageItem", "PageLine", "PageScore", "box_iou",
    "cer", "crop_lines", "edit_distance", "edit_ops", "evaluate_lines", "evaluate_page_crops", "evaluate_pages",
    "get_page_reader", "match_boxes", "normalize", "open_dataset", "page_tokens", "prf", "read_labels", "read_pages",
    "read_tsv", "score_page",
]
