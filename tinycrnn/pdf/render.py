"""PDF input: open a PDF with pypdfium2 (the ``pdf`` extra), select pages, say which already carry text,
and render each page to pixels for the page reader.

Why pypdfium2: PDFium is the renderer Chrome ships, the wheel bundles it (no system library, no
Ghostscript), it renders anti-aliased text that OCR reads well and it repairs damaged cross-reference
tables the way browsers do. Every way a file can be unusable (not a PDF, encrypted, broken, no pages, too
many pages for one read, absurd page sizes) becomes one :class:`~tinycrnn.errors.PdfError` naming the file
and the fix. Not here: writing PDFs (``write.py``) or OCR.
"""
import os
import re
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence

import numpy as np

from ..errors import MissingDependencyError, PdfError

#: Pages are rendered at this resolution unless that would exceed MAX_RENDER_PIXELS.
DEFAULT_DPI = 300.0
#: A rendered page has at most this many pixels (an A3 page at 300 dpi has 17.4 M); bigger pages render at a
#: lower resolution. Keeps memory bounded for posters and malformed page sizes.
MAX_RENDER_PIXELS = 20_000_000
#: Without ``--pages`` a read takes at most this many pages; longer documents must choose.
MAX_PAGES = 500
#: A page with at least this many non-space characters of text is said to carry a text layer.
MIN_TEXT_CHARS = 1
#: The file must start with ``%PDF-`` within this many bytes (what PDF readers accept).
HEADER_WINDOW = 1024


def _pdfium():
    try:
        import pypdfium2
    except ImportError:
        raise MissingDependencyError("reading PDF files needs the pdf extra: pip install 'tinycrnn[pdf]'") from None
    return pypdfium2


def is_pdf(path) -> bool:
    """True when ``path`` names a ``.pdf`` file or a file whose first bytes are a PDF header."""
    p = os.fspath(path)
    if p.lower().endswith(".pdf"):
        return True
    try:
        with open(p, "rb") as f:
            return b"%PDF-" in f.read(HEADER_WINDOW)
    except OSError:
        return False


def parse_pages(spec: Optional[str], count: int) -> List[int]:
    """0-based page indices of a 1-based selection like ``"1-3,5,9-"`` in a document of ``count`` pages.

    Raises:
        PdfError: malformed selection, or a page outside 1..count.
    """
    if spec is None or not spec.strip():
        return list(range(count))
    out: List[int] = []
    for part in spec.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)?\s*(-)?\s*(\d+)?", part)
        if not part or not m or (m.group(2) is None and m.group(3) is not None) or (m.group(1) is None and m.group(3) is None):
            raise PdfError(f"--pages {spec!r}: expected page numbers and ranges like 1-3,5,9- (1-based)")
        first = int(m.group(1)) if m.group(1) else 1
        last = (int(m.group(3)) if m.group(3) else count) if m.group(2) else first
        if first < 1 or last < first:
            raise PdfError(f"--pages {spec!r}: {part!r} is not a range of 1-based page numbers")
        if last > count:
            raise PdfError(f"--pages {spec!r}: page {last} does not exist; the document has {count} pages")
        out.extend(i for i in range(first - 1, last) if i not in out)
    return out


@dataclass
class PdfPage:
    """One selected page: ``number`` (1-based), ``image`` (BGR uint8, None when skipped), the render ``dpi``,
    and ``text_chars``, the number of non-space characters its own text layer already has."""

    number: int
    image: Optional[np.ndarray]
    dpi: float
    text_chars: int

    @property
    def has_text(self) -> bool:
        return self.text_chars >= MIN_TEXT_CHARS


class PdfDocument:
    """An opened PDF for reading.

    Args:
        path: the file.
        password: for encrypted files (None: the empty user password only).

    Raises:
        PdfError: not a PDF, encrypted, damaged beyond repair, or without pages.
        MissingDependencyError: pypdfium2 (the ``pdf`` extra) is not installed.
    """

    def __init__(self, path, password: Optional[str] = None):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise PdfError(f"{self.path}: no such file" if not os.path.exists(self.path) else f"{self.path}: not a regular file")
        with open(self.path, "rb") as f:
            head = f.read(HEADER_WINDOW)
        if b"%PDF-" not in head:
            raise PdfError(f"{self.path}: not a PDF file (no %PDF- header in its first {HEADER_WINDOW} bytes)")
        pdfium = _pdfium()
        try:
            self._doc = pdfium.PdfDocument(self.path, password=password)
        except pdfium.PdfiumError as exc:
            raise PdfError(self._load_message(exc, password)) from None
        self.page_count = len(self._doc)
        if self.page_count == 0:
            self.close()
            raise PdfError(f"{self.path}: the PDF has no pages")

    def _load_message(self, exc, password) -> str:
        code = getattr(exc, "err_code", None)
        # PDFium's FPDF_ERR_* codes: 1 unknown, 2 file, 3 format, 4 password, 5 security handler
        if code == 4:
            what = "the password given is wrong" if password else "it needs a password"
            return f"{self.path}: the PDF is encrypted and {what} (pass it with --password)"
        if code == 5:
            return f"{self.path}: the PDF uses an unsupported security handler (encryption); decrypt it first (qpdf --decrypt)"
        if code == 0:  # PDFium refuses a document whose page tree is empty, reporting "success"
            return f"{self.path}: the PDF has no pages (no usable page tree)"
        if code == 3:
            return f"{self.path}: the PDF is damaged or truncated and could not be repaired ({exc})"
        return f"{self.path}: could not open the PDF ({exc})"

    def close(self) -> None:
        doc, self._doc = getattr(self, "_doc", None), None
        if doc is not None:
            doc.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def select(self, pages: Optional[str] = None, max_pages: int = MAX_PAGES) -> List[int]:
        """0-based indices of ``pages`` (``"1-3,5"``; None = all, refused past ``max_pages`` pages)."""
        if pages is None and self.page_count > max_pages:
            raise PdfError(f"{self.path}: {self.page_count} pages, more than the {max_pages} read at once; "
                           f"choose pages with --pages (e.g. --pages 1-{max_pages})")
        return parse_pages(pages, self.page_count)

    def text_chars(self, index: int) -> int:
        """Non-space characters on page ``index`` (0-based) that its own text layer already holds."""
        page = self._doc[index]
        try:
            tp = page.get_textpage()
            try:
                text = tp.get_text_range()
            finally:
                tp.close()
        except _pdfium().PdfiumError:
            return 0
        finally:
            page.close()
        return sum(1 for ch in text if not ch.isspace())

    def render(self, index: int, dpi: float = DEFAULT_DPI, max_pixels: int = MAX_RENDER_PIXELS):
        """Page ``index`` (0-based) as BGR uint8 pixels and the DPI it was rendered at (lower than ``dpi``
        when the page would exceed ``max_pixels``).

        Raises:
            PdfError: the page has no usable size or cannot be rendered.
        """
        pdfium = _pdfium()
        page = self._doc[index]
        try:
            w_pt, h_pt = page.get_size()
            if not (w_pt > 0 and h_pt > 0) or not np.isfinite([w_pt, h_pt]).all():
                raise PdfError(f"{self.path}: page {index + 1} has no usable size ({w_pt} x {h_pt} points)")
            scale = dpi / 72.0
            if w_pt * h_pt * scale * scale > max_pixels:
                scale = (max_pixels / (w_pt * h_pt)) ** 0.5
            # NOTE: PDFium sizes the bitmap with ceil(); shave float32 noise so 520.0001 px stays 520
            scale *= 1.0 - 1e-6
            if w_pt * scale < 1 or h_pt * scale < 1:
                raise PdfError(f"{self.path}: page {index + 1} is too small to render ({w_pt} x {h_pt} points)")
            try:
                bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255), may_draw_forms=True)
            except pdfium.PdfiumError as exc:
                raise PdfError(f"{self.path}: page {index + 1} could not be rendered ({exc})") from None
            arr = bitmap.to_numpy()
            mode = getattr(bitmap, "mode", "BGRA")
            img = np.ascontiguousarray(arr[..., :3] if arr.ndim == 3 else arr)
            if mode in ("RGB", "RGBA", "RGBX"):
                img = np.ascontiguousarray(img[..., ::-1])
            return img, scale * 72.0
        finally:
            page.close()

    def pages(self, selection: Sequence[int], dpi: float = DEFAULT_DPI, force_ocr: bool = False) -> Iterator[PdfPage]:
        """Each selected page in order: rendered, or (``image`` None) skipped when it already carries text and
        ``force_ocr`` is off. One page is in memory at a time."""
        for i in selection:
            chars = self.text_chars(i)
            if chars >= MIN_TEXT_CHARS and not force_ocr:
                yield PdfPage(i + 1, None, 0.0, chars)
                continue
            img, used = self.render(i, dpi)
            yield PdfPage(i + 1, img, used, chars)
