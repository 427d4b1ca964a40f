"""``--format pdf``: a searchable PDF, each page the page image with its words as an invisible text layer.

The writing itself is :class:`tinycrnn.pdf.write.SearchablePdf` (the ``pdf`` extra's own writer); this module
only adapts it to the format registry's :class:`~tinycrnn.formats.base.Writer` protocol.
"""
from ..pdf.layout import page_words
from ..pdf.write import SearchablePdf
from .base import DocPage, Writer

#: Resolution assumed for image inputs, whose files rarely say it: sets the PDF page size only
#: (a 2480 x 3508 px scan becomes an A4 page); the text layer lies on the pixels either way.
IMAGE_DPI = 300.0


class PdfWriter(Writer):
    """Streams pages into a searchable PDF on a binary stream (pages must have their pixels or a loadable source)."""

    binary = True

    def __init__(self, out, **options):
        super().__init__(out, **options)
        from .. import __version__

        self._pdf = SearchablePdf(out, producer=f"tinycrnn {__version__}")

    def add(self, page: DocPage) -> None:
        self._pdf.add_page(page.pixels(), page_words(page.result), page.dpi or IMAGE_DPI)
        self.pages += 1

    def close(self) -> None:
        self._pdf.close()
