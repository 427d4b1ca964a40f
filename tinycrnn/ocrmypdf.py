"""OCRmyPDF plugin: tinycrnn as OCRmyPDF's OCR engine (``ocrmypdf --plugin tinycrnn.ocrmypdf in.pdf out.pdf``).

Implements OCRmyPDF's documented hooks (``add_options``, ``check_options``, ``get_ocr_engine``) and an
``OcrEngine`` that reads each page image OCRmyPDF rasterises with :class:`tinycrnn.OCR`. All three output
paths are there: ``generate_ocr`` (OCRmyPDF >= 17: an OcrElement tree, no hOCR round trip), ``generate_hocr``
(older OCRmyPDF, ``--pdf-renderer hocr``) and ``generate_pdf`` (``--pdf-renderer sandwich``: a text-only PDF
from tinycrnn's own writer). Errors are OCRmyPDF's exception types, so it reports them with its exit codes.
Only OCRmyPDF imports this module; ``import tinycrnn`` never does.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, Tuple

from ocrmypdf import hookimpl
from ocrmypdf.exceptions import BadArgsError, InputFileError, MissingDependencyError
from ocrmypdf.pluginspec import OcrEngine, OrientationConfidence

from . import __version__
from .errors import ModelNotFoundError, TinyCRNNError

log = logging.getLogger(__name__)

#: OCRmyPDF language codes (Tesseract's) that tinycrnn's page models read: english_g2 and ppocrv2_zh read
#: Latin-script English; ppocrv2_zh also reads simplified Chinese.
LANGUAGES = frozenset({"eng", "chi_sim"})
#: One OCR per (model, backend) per worker process: OCRmyPDF runs pages in worker processes, each of which
#: imports the plugin again, so the cache is per process and holds no state between files.
_READERS: Dict[Tuple, object] = {}


@hookimpl
def add_options(parser):
    group = parser.add_argument_group("tinycrnn", "Options for the tinycrnn OCR engine")
    group.add_argument("--tinycrnn-model", metavar="MODEL",
                       help="page model name or .tcrnn path (default: tinycrnn's default page model)")
    group.add_argument("--tinycrnn-backend", choices=("numba", "numpy"),
                       help="kernel backend (default: numba; numpy needs no compilation but is slower)")
    group.add_argument("--tinycrnn-min-confidence", type=float, default=0.0, metavar="C",
                       help="leave out lines read with a confidence below C (0-1)")


def _opt(options, name, default=None):
    return getattr(options, name, default) if options is not None else default


@hookimpl
def check_options(options):
    conf = _opt(options, "tinycrnn_min_confidence", 0.0) or 0.0
    if not 0.0 <= conf <= 1.0:
        raise BadArgsError(f"--tinycrnn-min-confidence must be in [0, 1], got {conf}")
    model = _opt(options, "tinycrnn_model")
    try:
        from .engine import resolve_model_path
        from .page.defaults import default_page_model

        resolve_model_path(model) if model else default_page_model(_opt(options, "tinycrnn_backend"))
    except ModelNotFoundError as exc:
        raise MissingDependencyError(f"tinycrnn: {exc}") from None


def _reader(options):
    from .page.pipeline import OCR

    key = (_opt(options, "tinycrnn_model"), _opt(options, "tinycrnn_backend"),
           float(_opt(options, "tinycrnn_min_confidence", 0.0) or 0.0))
    if key not in _READERS:
        _READERS[key] = OCR(model=key[0], backend=key[1], min_confidence=key[2])
    return _READERS[key]


def _read(input_file: Path, options):
    """(PageResult, width, height, dpi) of one page image; tinycrnn errors become OCRmyPDF's."""
    from PIL import Image

    with Image.open(input_file) as im:
        width, height = im.size
        dpi = im.info.get("dpi", (300, 300))
    dpi = float(dpi[0] if isinstance(dpi, (tuple, list)) else dpi) or 300.0
    try:
        result = _reader(options).read(str(input_file))
    except ModelNotFoundError as exc:
        raise MissingDependencyError(f"tinycrnn: {exc}") from None
    except TinyCRNNError as exc:
        raise InputFileError(f"tinycrnn could not read page image {input_file.name}: {exc}") from None
    return result, width, height, dpi


def _word_confidences(line):
    """Each word's confidence in ``line_words(line)`` order: the word's own, or the line's for split boxes."""
    words = [w for w in (getattr(line, "words", None) or []) if w.text.strip()]
    if words:
        return [float(w.confidence) for w in words]
    return [float(line.confidence)] * len(line.text.split())


class TinyCRNNEngine(OcrEngine):
    """tinycrnn behind OCRmyPDF's OcrEngine interface."""

    @staticmethod
    def version() -> str:
        return __version__

    @staticmethod
    def creator_tag(options) -> str:
        return f"tinycrnn {__version__}"

    def __str__(self) -> str:
        return f"tinycrnn {__version__}"

    @staticmethod
    def languages(options) -> set:
        return set(LANGUAGES)

    @staticmethod
    def get_orientation(input_file: Path, options) -> OrientationConfidence:
        # NOTE: tinycrnn does not detect page orientation; confidence 0 makes --rotate-pages leave pages alone
        return OrientationConfidence(angle=0, confidence=0.0)

    @staticmethod
    def get_deskew(input_file: Path, options) -> float:
        import cv2

        from .page.skew import estimate_skew

        gray = cv2.imread(str(input_file), cv2.IMREAD_GRAYSCALE)
        if gray is None or min(gray.shape) < 32:
            return 0.0
        return float(estimate_skew(gray))

    @staticmethod
    def supports_generate_ocr() -> bool:
        return True

    @staticmethod
    def generate_ocr(input_file: Path, options, page_number: int = 0):
        from ocrmypdf.hocrtransform import BoundingBox, OcrClass, OcrElement

        from .pdf.layout import line_words

        result, width, height, dpi = _read(Path(input_file), options)

        def bbox(pts):
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            return BoundingBox(left=max(0.0, min(xs)), top=max(0.0, min(ys)),
                               right=min(float(width), max(xs)), bottom=min(float(height), max(ys)))

        lines = []
        for line in result.lines:
            words = [OcrElement(ocr_class=OcrClass.WORD, bbox=bbox(box), text=text, confidence=conf)
                     for (text, box), conf in zip(line_words(line), _word_confidences(line))]
            if words:
                lines.append(OcrElement(ocr_class=OcrClass.LINE, bbox=bbox(line.box), children=words))
        page = OcrElement(ocr_class=OcrClass.PAGE, bbox=BoundingBox(left=0, top=0, right=width, bottom=height),
                          dpi=dpi, page_number=page_number, children=lines)
        return page, result.text + ("\n" if result.lines else "")

    @staticmethod
    def generate_hocr(input_file: Path, output_hocr: Path, output_text: Path, options) -> None:
        from .formats import DocPage
        from .formats.hocr import hocr_string

        result, width, height, dpi = _read(Path(input_file), options)
        page = DocPage(_separated(result), Path(input_file).name, dpi=dpi)
        Path(output_hocr).write_text(hocr_string([page]), encoding="utf-8")
        Path(output_text).write_text(result.text + ("\n" if result.lines else ""), encoding="utf-8")

    @staticmethod
    def generate_pdf(input_file: Path, output_pdf: Path, output_text: Path, options) -> None:
        from .pdf.layout import page_words
        from .pdf.write import SearchablePdf

        result, width, height, dpi = _read(Path(input_file), options)
        with open(output_pdf, "wb") as f:
            pdf = SearchablePdf(f, producer=f"tinycrnn {__version__}")
            pdf.add_text_page(width, height, page_words(result), dpi)
            pdf.close()
        Path(output_text).write_text(result.text + ("\n" if result.lines else ""), encoding="utf-8")


def _separated(result):
    """``result`` with each line's words in the text-layer boxes of :func:`tinycrnn.pdf.layout.line_words`
    (neighbours kept apart), as word objects the hOCR writer takes."""
    from dataclasses import replace

    from .page.words import Word
    from .pdf.layout import line_words

    lines = []
    for line in result.lines:
        own = [w for w in line.words if w.text.strip()]
        if own:
            words = [replace(w, box=box) for w, (_, box) in zip(own, line_words(line))]
        else:
            c = float(line.confidence)
            words = [Word(text, c, [c] * len(text), box) for text, box in line_words(line)]
        lines.append(replace(line, words=words))
    return replace(result, lines=lines)


@hookimpl
def get_ocr_engine(options=None):
    # NOTE: loading this plugin is the user's choice of engine; `--ocr-engine none / tesseract` still win
    if _opt(options, "ocr_engine", "auto") not in ("auto", None):
        return None
    return TinyCRNNEngine()
