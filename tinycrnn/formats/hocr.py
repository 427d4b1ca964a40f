"""``--format hocr``: hOCR 1.2 (XHTML) with pages, lines and words, for tools that read Tesseract's hOCR.

Each page is an ``ocr_page`` (``image``, ``bbox``, ``ppageno``, ``scan_res`` when the DPI is known);
each line an ``ocr_line`` with its ``bbox``; each word an ``ocrx_word`` with ``bbox``, ``x_wconf``
(0-100) and ``x_confs`` (per-character confidences, 0-100). Boxes are the axis-aligned hulls of the
4-point boxes, in page pixels. No baselines, blocks or paragraphs: tinycrnn finds lines. Several
pages make one document. Checked with hocr-tools' ``hocr-check`` and ``hocr-spec`` (tests/test_formats.py).
"""
from typing import List

from .._version import __version__
from .base import DocPage, Writer
from .xmltext import xml_attr, xml_text

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>{title}</title>
  <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>
  <meta name="ocr-system" content="tinycrnn {version}"/>
  <meta name="ocr-capabilities" content="ocr_page ocr_line ocrx_word ocrp_wconf"/>
 </head>
 <body>
"""
TAIL = """ </body>
</html>
"""


def _bbox(b) -> str:
    return f"bbox {b[0]} {b[1]} {b[2]} {b[3]}"


def _quoted(name: str) -> str:
    # hOCR property values with spaces or ';' are double-quoted, '"' and '\' escaped
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def page_hocr(page: DocPage) -> List[str]:
    """The ``ocr_page`` element of one page, as lines of text."""
    res, n = page.result, page.number
    title = f"image {_quoted(page.source)}; {_bbox((0, 0, res.width, res.height))}; ppageno {n - 1}"
    if page.dpi:
        title += f"; scan_res {int(round(page.dpi))} {int(round(page.dpi))}"
    out = [f'  <div class="ocr_page" id="page_{n}" title={xml_attr(title)}>']
    for li, line in enumerate((ln for ln in res.lines if ln.words), 1):
        out.append(f'   <span class="ocr_line" id="line_{n}_{li}" title="{_bbox(line.bbox)}">')
        for wi, w in enumerate(line.words, 1):
            confs = " ".join(f"{100.0 * c:.0f}" for c in w.char_confidences)
            title = f"{_bbox(w.bbox)}; x_wconf {100.0 * w.confidence:.0f}" + (f"; x_confs {confs}" if confs else "")
            out.append(f'    <span class="ocrx_word" id="word_{n}_{li}_{wi}" title="{title}">{xml_text(w.text)}</span>')
        out.append("   </span>")
    out.append("  </div>")
    return out


class HocrWriter(Writer):
    """Streams an hOCR document: the head on the first page, one ``ocr_page`` per :meth:`add`."""

    def _head(self) -> None:
        self.out.write(HEAD.format(title=xml_text(self.options.get("title", "")), version=__version__))

    def add(self, page: DocPage) -> None:
        if self.pages == 0:
            self._head()
        self.pages += 1
        self.out.write("\n".join(page_hocr(page)) + "\n")
        self.out.flush()

    def close(self) -> None:
        if self.pages == 0:
            self._head()
        self.out.write(TAIL)
        self.out.flush()


def hocr_string(pages, **options) -> str:
    """One hOCR document of ``pages`` (:class:`DocPage` s) as a string (the OCRmyPDF plugin's per-page hOCR)."""
    import io

    buf = io.StringIO()
    w = HocrWriter(buf, **options)
    for p in pages:
        w.add(p)
    w.close()
    return buf.getvalue()
