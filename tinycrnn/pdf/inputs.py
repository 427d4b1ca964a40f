"""``tinycrnn read`` on PDF files: the read options (``--pages``, ``--force-ocr``, ``--dpi``, ``--password``) and the
expansion of each input into pages, so the read loop sees images and rendered PDF pages alike.

Why apart from cli.py: the CLI only asks for "the pages of these inputs"; everything PDF-specific (opening,
page choice, text-layer checks, messages) lives here and loads pypdfium2 only when a PDF is among the inputs.
"""
import sys
from typing import Callable, Iterator, Optional, Sequence, Tuple

from .render import DEFAULT_DPI, MAX_PAGES, PdfDocument, is_pdf

#: (source name, image path or BGR pixels or the input's TinyCRNNError, dpi or None when unknown)
PageInput = Tuple[str, object, Optional[float]]


def add_read_options(p) -> None:
    """The PDF options of ``tinycrnn read``."""
    g = p.add_argument_group("PDF input (needs the pdf extra)")
    g.add_argument("--pages", metavar="LIST", help="PDF pages to read, 1-based: 1-3,5,9- (default: all, at most "
                   f"{MAX_PAGES})")
    g.add_argument("--force-ocr", action="store_true",
                   help="also read PDF pages that already carry text (default: skip them, saying so)")
    g.add_argument("--dpi", type=float, default=DEFAULT_DPI, help=f"PDF render resolution (default {DEFAULT_DPI:g}, "
                   "lowered for pages that would exceed 20 Mpixel)")
    g.add_argument("--password", help="password of an encrypted PDF")


def _stderr(msg: str) -> None:
    print(f"tinycrnn: {msg}", file=sys.stderr, flush=True)


def page_inputs(paths: Sequence[str], pages: Optional[str] = None, force_ocr: bool = False,
                dpi: float = DEFAULT_DPI, password: Optional[str] = None,
                note: Callable[[str], None] = _stderr) -> Iterator[PageInput]:
    """Each input as pages: an image file as itself, a PDF as its selected pages rendered at ``dpi``.

    Pages that already carry a text layer are skipped (``note`` says which) unless ``force_ocr``.
    ``pages`` applies to every PDF; with images only it is an error, so a typo is not silently ignored.
    A PDF (or page) that cannot be read is yielded with its error in place of the image (a
    :class:`~tinycrnn.errors.PdfError`, or MissingDependencyError without the ``pdf`` extra): the reader raises
    it where it reports per-input failures, and the other inputs are still read.

    Raises:
        PdfError: ``pages`` given without any PDF input, or a ``dpi`` out of range.
    """
    from ..errors import PdfError, TinyCRNNError

    pdfs = [p for p in paths if is_pdf(p)]
    if pages is not None and not pdfs:
        raise PdfError("--pages selects pages of PDF inputs, and none was given")
    if not dpi or dpi <= 0 or dpi > 1200:
        raise PdfError(f"--dpi must be in (0, 1200], got {dpi:g}")
    for path in paths:
        if path not in pdfs:
            yield path, path, None
            continue
        try:
            doc = PdfDocument(path, password=password)
        except TinyCRNNError as exc:
            yield path, exc, None
            continue
        with doc:
            try:
                selection = doc.select(pages)
            except TinyCRNNError as exc:
                yield path, exc, None
                continue
            skipped = []
            for i in selection:
                try:
                    page = next(doc.pages([i], dpi, force_ocr))
                except TinyCRNNError as exc:
                    yield f"{path}#page={i + 1}", exc, None
                    continue
                if page.image is None:
                    skipped.append(page.number)
                    continue
                yield f"{path}#page={page.number}", page.image, page.dpi
            if skipped:
                note(f"{path}: {_ranges(skipped)} already carr{'ies' if len(skipped) == 1 else 'y'} text and "
                     f"{'was' if len(skipped) == 1 else 'were'} not read (--force-ocr reads them)")


def _ranges(numbers: Sequence[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"pages 1-3, 5"``."""
    parts, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ("page " if len(numbers) == 1 else "pages ") + ", ".join(parts)
