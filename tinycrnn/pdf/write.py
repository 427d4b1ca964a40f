"""Searchable PDF writer: each page is the page image with an invisible, word-placed text layer over it.

Why our own ~200-line writer and not pikepdf or fpdf2: the job needs only a handful of objects (a JPEG
XObject, one content stream, one font), which PDF's text syntax covers directly (render mode 3 = invisible,
``Tz`` stretches each word to its box, ``Tm`` rotates it with its line); pikepdf would add qpdf's C++
library (~20 MB) for nothing we use, and fpdf2 needs a TrueType file plus fontTools and Pillow. Pages are
streamed to the file as they come, so a long document never sits in memory. The font is a CID font with
Identity-H encoding whose codes are the UTF-16 units of the text, and a ToUnicode map makes those codes the
text again (Tesseract's own PDF renderer does the same). The glyphs are never drawn, so the font program is
a tiny glyphless TrueType built here: every code maps to one empty glyph of half an em.
Not here: reading PDFs (``render.py``) or OCR.
"""
import math
import struct
import zlib
from typing import BinaryIO, List, Optional, Sequence, Tuple

import numpy as np

from .layout import PlacedWord

#: Glyph advance of the glyphless font in 1/1000 em: a word of n characters is n/2 em wide before ``Tz``.
GLYPH_WIDTH = 500
#: Font ascent / descent (1/1000 em) declared for the text layer; they add up to one em. A word's font size
#: is its box height and its baseline sits DESCENT/1000 of that above the box bottom, so text selection and
#: ``pdftotext -bbox`` see the box itself (poppler reads a descent of 0 as "unknown" and uses 0.35 em).
ASCENT, DESCENT = 800, 200
#: JPEG quality of the page images (gray pages are stored gray).
JPEG_QUALITY = 85


def _glyphless_ttf() -> bytes:
    """A TrueType font with one empty glyph (plus .notdef), for the CIDToGIDMap to point every code at.

    Tables: the ones PDF's FontFile2 needs for a CIDFontType2 (head, hhea, maxp, hmtx, loca, glyf), plus
    cmap, name, OS/2 and post so that font tools accept it."""
    upem = 1000

    def table_checksum(data: bytes) -> int:
        data += b"\0" * (-len(data) % 4)
        return sum(struct.unpack(f">{len(data) // 4}L", data)) & 0xFFFFFFFF

    head = struct.pack(">LLLLHHqqhhhhHHhhh", 0x00010000, 0x00010000, 0, 0x5F0F3CF5, 0, upem, 0, 0,
                       0, 0, GLYPH_WIDTH, ASCENT, 0, 3, 2, 0, 0)
    hhea = struct.pack(">LhhhHhhhhhhhhhhhH", 0x00010000, ASCENT, -DESCENT, 0, GLYPH_WIDTH, 0, 0, GLYPH_WIDTH,
                       1, 0, 0, 0, 0, 0, 0, 0, 2)
    maxp = struct.pack(">LHHHHHHHHHHHHHH", 0x00010000, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)
    hmtx = struct.pack(">HhHh", GLYPH_WIDTH, 0, GLYPH_WIDTH, 0)
    loca = struct.pack(">HHH", 0, 0, 0)  # short offsets: both glyphs are empty
    glyf = b"\0" * 4
    # cmap format 4: U+0020 -> glyph 1, then the required 0xFFFF end segment (PDF maps codes by CIDToGIDMap)
    seg = struct.pack(">HHHHHHH", 4, 32, 0, 4, 4, 1, 0) + struct.pack(">HHHHHhhHH", 0x20, 0xFFFF, 0, 0x20, 0xFFFF,
                                                                  1 - 0x20, 1, 0, 0)
    cmap = struct.pack(">HHHHL", 0, 1, 3, 1, 12) + seg
    name_str = "GlyphLessFont".encode("utf-16-be")
    names = b"".join(struct.pack(">HHHHHH", 3, 1, 0x409, nid, len(name_str), 0) for nid in (1, 4, 6))
    name = struct.pack(">HHH", 0, 3, 6 + 12 * 3) + names + name_str
    os2 = struct.pack(">HhHHHhhhhhhhhhhh", 3, GLYPH_WIDTH, 400, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) + \
        b"\0" * 10 + b"\0" * 16 + b"TCRN" + struct.pack(">HHHhhhHH", 0x40, 0x20, 0x20, ASCENT, -DESCENT, 0,
                                                        ASCENT, DESCENT) + b"\0" * 8 + struct.pack(">hhHHH", 0, 0, 0, 0x20, 0)
    post = struct.pack(">LLhhLLLLL", 0x00030000, 0, 0, 0, 1, 0, 0, 0, 0)
    tables = {b"OS/2": os2, b"cmap": cmap, b"glyf": glyf, b"head": head, b"hhea": hhea, b"hmtx": hmtx,
              b"loca": loca, b"maxp": maxp, b"name": name, b"post": post}
    n = len(tables)
    entry_selector = int(math.log2(n))
    search_range = 16 * (1 << entry_selector)
    out = struct.pack(">LHHHH", 0x00010000, n, search_range, entry_selector, 16 * n - search_range)
    offset = 12 + 16 * n
    directory, body = b"", b""
    for tag in sorted(tables):
        data = tables[tag]
        directory += struct.pack(">4sLLL", tag, table_checksum(data), offset + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    return out + directory + body  # NOTE: head.checkSumAdjustment stays 0; PDF readers do not check it


def _pdf_string_hex(text: str) -> str:
    """The Identity-H codes of ``text``: its UTF-16BE units as hex (characters outside the BMP as pairs)."""
    return text.encode("utf-16-be").hex().upper()


def _num(v: float) -> str:
    s = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def encode_image(image: np.ndarray, quality: int = JPEG_QUALITY) -> Tuple[bytes, str, int, int, str]:
    """A uint8 gray / BGR / BGRA page as PDF image data: bytes, colour space, width, height and filter
    (JPEG at ``quality``; ``quality=None``: lossless, Flate-compressed RGB or gray samples)."""
    import cv2

    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.ndim == 3 and img.shape[2] == 3:
        b, g, r = img[..., 0], img[..., 1], img[..., 2]
        if np.array_equal(b, g) and np.array_equal(g, r):
            img = np.ascontiguousarray(b)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    space = "/DeviceGray" if img.ndim == 2 else "/DeviceRGB"
    if quality is None:
        samples = img if img.ndim == 2 else img[..., ::-1]
        return zlib.compress(np.ascontiguousarray(samples).tobytes(), 6), space, img.shape[1], img.shape[0], "/FlateDecode"
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("could not encode the page image as JPEG")
    return buf.tobytes(), space, img.shape[1], img.shape[0], "/DCTDecode"


def text_layer(words: Sequence[PlacedWord], page_height_px: float, scale: float) -> bytes:
    """Content-stream operators drawing ``words`` invisibly (render mode 3) in font /F1.

    Each word gets its own text matrix: origin at its box's bottom-left corner, x along the box's top
    edge (so rotated lines stay rotated), font size = box height, and ``Tz`` stretching the word's glyph
    advances to the box width. ``scale`` is points per pixel; PDF's y axis points up."""
    ops: List[str] = ["BT", "3 Tr"]
    for text, box in words:
        text = "".join(ch for ch in text if not ch.isspace())
        b = np.asarray(box, np.float64).reshape(-1, 2)
        if not text or b.shape[0] != 4 or not np.isfinite(b).all():
            continue
        tl, tr, br, bl = b
        width = float(np.hypot(*(tr - tl)))
        height = float(np.hypot(*(bl - tl)))
        if width < 1e-3 or height < 1e-3:
            continue
        ux, uy = (tr - tl) / width  # unit vector along the word, in pixels (y down)
        size = height * scale
        natural = len(text.encode("utf-16-be")) // 2 * GLYPH_WIDTH / 1000.0 * size
        stretch = 100.0 * width * scale / natural
        origin = bl + (tl - bl) * (DESCENT / 1000.0)
        x, y = origin[0] * scale, (page_height_px - origin[1]) * scale
        ops.append(f"/F1 {_num(size)} Tf {_num(stretch)} Tz {_num(ux)} {_num(-uy)} {_num(uy)} {_num(ux)} "
                   f"{_num(x)} {_num(y)} Tm <{_pdf_string_hex(text)}> Tj")
    ops.append("ET")
    return "\n".join(ops).encode("ascii")


class SearchablePdf:
    """Writes a searchable PDF to a binary stream, page by page.

    Args:
        out: a writable binary file object (left open by :meth:`close`).
        producer: the /Producer of the document information.
        jpeg_quality: quality of the page images; None stores them losslessly (Flate).

    Example:
        >>> with open("out.pdf", "wb") as f:  # doctest: +SKIP
        ...     pdf = SearchablePdf(f)
        ...     pdf.add_page(image, [("Hello", [[10, 10], [90, 10], [90, 40], [10, 40]])], dpi=300)
        ...     pdf.close()
    """

    def __init__(self, out: BinaryIO, producer: str = "tinycrnn", jpeg_quality: Optional[int] = JPEG_QUALITY):
        self.out = out
        self.jpeg_quality = jpeg_quality
        self._offsets: List[int] = []
        self._kids: List[int] = []
        self._pos = 0
        self._closed = False
        self._write(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
        # objects 1 (catalog) and 2 (page tree) are written at close, once every page is known
        self._offsets = [0, 0]
        self._font = self._add_font()
        self._info = self._add_obj(f"<< /Producer {_pdf_text(producer)} /Creator {_pdf_text(producer)} >>".encode())

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self._pos += len(data)

    def _add_obj(self, body: bytes, num: Optional[int] = None) -> int:
        if num is None:
            self._offsets.append(self._pos)
            num = len(self._offsets)
        else:
            self._offsets[num - 1] = self._pos
        self._write(b"%d 0 obj\n" % num + body + b"\nendobj\n")
        return num

    def _add_stream(self, data: bytes, extra: str = "", compress: bool = True) -> int:
        if compress:
            data = zlib.compress(data, 6)
            extra += " /Filter /FlateDecode"
        return self._add_obj(f"<< /Length {len(data)}{extra} >>\nstream\n".encode() + data + b"\nendstream")

    def _add_font(self) -> int:
        ttf = _glyphless_ttf()
        font_file = self._add_stream(ttf, f" /Length1 {len(ttf)}")
        cid_to_gid = self._add_stream(b"\x00\x01" * 65536)
        to_unicode = self._add_stream(
            b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            b"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            b"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            b"1 beginbfrange\n<0000> <FFFF> <0000>\nendbfrange\n"
            b"endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
        descriptor = self._add_obj(
            f"<< /Type /FontDescriptor /FontName /GlyphLessFont /Flags 5 /FontBBox [0 {-DESCENT} {GLYPH_WIDTH} "
            f"{ASCENT}] /ItalicAngle 0 /Ascent {ASCENT} /Descent {-DESCENT} /CapHeight {ASCENT} /StemV 80 "
            f"/FontFile2 {font_file} 0 R >>".encode())
        cid_font = self._add_obj(
            f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /GlyphLessFont /CIDSystemInfo << /Registry "
            f"(Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor {descriptor} 0 R /DW {GLYPH_WIDTH} "
            f"/CIDToGIDMap {cid_to_gid} 0 R >>".encode())
        return self._add_obj(
            f"<< /Type /Font /Subtype /Type0 /BaseFont /GlyphLessFont /Encoding /Identity-H /DescendantFonts "
            f"[{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>".encode())

    def add_page(self, image: np.ndarray, words: Sequence[PlacedWord], dpi: float = 300.0) -> None:
        """Append a page: ``image`` (uint8 gray/BGR/BGRA pixels) shown at ``dpi``, ``words`` over it.

        Raises:
            ValueError: the writer is closed, the DPI is not positive, or the image is empty.
        """
        if self._closed:
            raise ValueError("this SearchablePdf is closed")
        if not dpi or not math.isfinite(dpi) or dpi <= 0:
            raise ValueError(f"dpi must be a positive number, got {dpi!r}")
        img = np.asarray(image)
        if img.ndim < 2 or img.shape[0] < 1 or img.shape[1] < 1:
            raise ValueError(f"cannot write an empty page image (shape {img.shape})")
        data, space, w, h, codec = encode_image(img, self.jpeg_quality)
        scale = 72.0 / float(dpi)
        pw, ph = w * scale, h * scale
        xobj = self._add_stream(data, f" /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace {space} "
                                      f"/BitsPerComponent 8 /Filter {codec}", compress=False)
        content = (f"q {_num(pw)} 0 0 {_num(ph)} 0 0 cm /Im0 Do Q\n".encode() + text_layer(words, h, scale))
        contents = self._add_stream(content)
        self._kids.append(self._add_obj(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {_num(pw)} {_num(ph)}] /Contents {contents} 0 R "
            f"/Resources << /XObject << /Im0 {xobj} 0 R >> /Font << /F1 {self._font} 0 R >> >> >>".encode()))

    def add_text_page(self, width: int, height: int, words: Sequence[PlacedWord], dpi: float = 300.0) -> None:
        """Append a page of ``width`` x ``height`` pixels at ``dpi`` holding only the invisible ``words`` (what
        OCRmyPDF's sandwich renderer grafts onto the original page)."""
        if self._closed:
            raise ValueError("this SearchablePdf is closed")
        if not dpi or not math.isfinite(dpi) or dpi <= 0 or width < 1 or height < 1:
            raise ValueError(f"bad text page: {width} x {height} pixels at {dpi!r} dpi")
        scale = 72.0 / float(dpi)
        contents = self._add_stream(text_layer(words, height, scale))
        self._kids.append(self._add_obj(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {_num(width * scale)} {_num(height * scale)}] "
            f"/Contents {contents} 0 R /Resources << /Font << /F1 {self._font} 0 R >> >> >>".encode()))

    @property
    def page_count(self) -> int:
        return len(self._kids)

    def close(self) -> None:
        """Write the page tree, catalog, cross-reference table and trailer (the stream stays open)."""
        if self._closed:
            return
        self._closed = True
        kids = " ".join(f"{k} 0 R" for k in self._kids)
        self._add_obj(f"<< /Type /Pages /Kids [{kids}] /Count {len(self._kids)} >>".encode(), num=2)
        self._add_obj(b"<< /Type /Catalog /Pages 2 0 R >>", num=1)
        xref_at = self._pos
        rows = [b"xref\n0 %d\n" % (len(self._offsets) + 1), b"0000000000 65535 f \n"]
        rows += [b"%010d 00000 n \n" % off for off in self._offsets]
        self._write(b"".join(rows))
        self._write(f"trailer\n<< /Size {len(self._offsets) + 1} /Root 1 0 R /Info {self._info} 0 R >>\n"
                    f"startxref\n{xref_at}\n%%EOF\n".encode())


def _pdf_text(s: str) -> str:
    """A PDF text string: a literal for plain ASCII (what PDF/A converters keep in XMP), else UTF-16BE hex."""
    if all(32 <= ord(c) < 127 and c not in "()\\" for c in s):
        return f"({s})"
    return "<FEFF" + s.encode("utf-16-be").hex().upper() + ">"
