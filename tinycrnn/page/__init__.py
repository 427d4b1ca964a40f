"""Whole-page OCR: preprocessing steps, text-line detection, reading order, line recognition, overlays."""
