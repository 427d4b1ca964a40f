"""``--format tsv``: Tesseract's TSV (``tesseract img out tsv``), so tools that read it read tinycrnn.

Columns: level (1 page, 2 block, 3 paragraph, 4 line, 5 word), page_num, block_num, par_num,
line_num, word_num, left, top, width, height, conf, text. Boxes are the axis-aligned hulls in page
pixels; conf is the word confidence x 100 and -1 on the other levels, as Tesseract writes it. A page is
one block holding one paragraph (tinycrnn finds lines, not blocks).
"""
from .base import DocPage, Writer

HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"


def _clean(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())


class TsvWriter(Writer):
    def add(self, page: DocPage) -> None:
        if self.pages == 0:
            self.out.write(HEADER)
        self.pages += 1
        res, n = page.result, page.number
        rows = [(1, n, 0, 0, 0, 0, (0, 0, res.width, res.height), -1, "")]
        lines = [ln for ln in res.lines if ln.words]
        if lines:
            hull = _hull([ln.bbox for ln in lines])
            rows += [(2, n, 1, 0, 0, 0, hull, -1, ""), (3, n, 1, 1, 0, 0, hull, -1, "")]
        for li, line in enumerate(lines, 1):
            rows.append((4, n, 1, 1, li, 0, line.bbox, -1, ""))
            for wi, w in enumerate(line.words, 1):
                rows.append((5, n, 1, 1, li, wi, w.bbox, round(100.0 * w.confidence, 2), _clean(w.text)))
        for level, pn, b, p, li, wi, (x0, y0, x1, y1), conf, text in rows:
            self.out.write(f"{level}\t{pn}\t{b}\t{p}\t{li}\t{wi}\t{x0}\t{y0}\t{x1 - x0}\t{y1 - y0}\t{conf}\t{text}\n")
        self.out.flush()


def _hull(boxes):
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
