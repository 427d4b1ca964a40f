"""``--format alto``: ALTO v4 XML (schema 4.3), the layout-and-text format libraries and archives keep.

One ``Page`` per input page (``PHYSICAL_IMG_NR`` = its number), one ``TextBlock`` per page holding
the lines as ``TextLine`` s, each word a ``String`` with ``WC`` (confidence 0-1) and ``CC`` (one digit
per character, 0 = sure .. 9 = unsure, as the schema defines it), ``SP`` between words. Units are
pixels; boxes are the axis-aligned hulls of the 4-point boxes. ``sourceImageInformation`` names the
first page's file (ALTO has one per document). Validated against the official XSD in tests/test_formats.py.
"""
from .._version import __version__
from .base import DocPage, Writer
from .xmltext import xml_attr, xml_text

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xsi:schemaLocation="http://www.loc.gov/standards/alto/ns-v4# http://www.loc.gov/standards/alto/v4/alto-4-3.xsd" \
SCHEMAVERSION="4.3">
 <Description>
  <MeasurementUnit>pixel</MeasurementUnit>
{source}  <Processing ID="proc_1">
   <processingSoftware>
    <softwareName>tinycrnn</softwareName>
    <softwareVersion>{version}</softwareVersion>
   </processingSoftware>
  </Processing>
 </Description>
 <Layout>
"""
TAIL = """ </Layout>
</alto>
"""


def _box(b) -> str:
    return f'HPOS="{b[0]}" VPOS="{b[1]}" WIDTH="{b[2] - b[0]}" HEIGHT="{b[3] - b[1]}"'


def _cc(confs) -> str:
    return " ".join(str(min(9, max(0, int(round(9.0 * (1.0 - c)))))) for c in confs)


class AltoWriter(Writer):
    def _head(self, page=None) -> None:
        src = ""
        if page is not None and page.source:
            src = f"  <sourceImageInformation>\n   <fileName>{xml_text(page.source)}</fileName>\n  </sourceImageInformation>\n"
        self.out.write(HEAD.format(source=src, version=xml_text(__version__)))

    def add(self, page: DocPage) -> None:
        if self.pages == 0:
            self._head(page)
        self.pages += 1
        res, n = page.result, page.number
        lines = [ln for ln in res.lines if ln.words]
        out = [f'  <Page ID="page_{n}" PHYSICAL_IMG_NR="{n}" WIDTH="{res.width}" HEIGHT="{res.height}" PROCESSING="proc_1">',
               f'   <PrintSpace {_box((0, 0, res.width, res.height))}>']
        if lines:
            hull = (min(ln.bbox[0] for ln in lines), min(ln.bbox[1] for ln in lines),
                    max(ln.bbox[2] for ln in lines), max(ln.bbox[3] for ln in lines))
            out.append(f'    <TextBlock ID="block_{n}_1" {_box(hull)}>')
            for li, line in enumerate(lines, 1):
                out.append(f'     <TextLine ID="line_{n}_{li}" {_box(line.bbox)}>')
                for wi, w in enumerate(line.words, 1):
                    if wi > 1:
                        prev = line.words[wi - 2].bbox
                        x0 = min(prev[2], w.bbox[0])
                        out.append(f'      <SP HPOS="{x0}" VPOS="{line.bbox[1]}" WIDTH="{max(0, w.bbox[0] - x0)}"/>')
                    cc = f' CC="{_cc(w.char_confidences)}"' if w.char_confidences else ""
                    out.append(f'      <String ID="string_{n}_{li}_{wi}" {_box(w.bbox)} CONTENT={xml_attr(w.text)} '
                               f'WC="{w.confidence:.4f}"{cc}/>')
                out.append("     </TextLine>")
            out.append("    </TextBlock>")
        out += ["   </PrintSpace>", "  </Page>"]
        self.out.write("\n".join(out) + "\n")
        self.out.flush()

    def close(self) -> None:
        if self.pages == 0:
            self._head()
        self.out.write(TAIL)
        self.out.flush()
