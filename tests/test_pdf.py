"""PDF in and out: the searchable-PDF writer, PDF input for ``tinycrnn read`` (page choice, text pages, bad
files), and the text layer's word boxes against words drawn at known positions. Needs the pdf extra
(pypdfium2); the checks that read PDFs back use poppler's ``pdftotext`` and skip without it.
"""
import os
import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from conftest import ROOT, run_tinycrnn
from textimg import put_text

pytest.importorskip("pypdfium2", reason="the pdf extra (pypdfium2) is not installed")

from tinycrnn.errors import MissingDependencyError, PdfError  # noqa: E402
from tinycrnn.pdf.inputs import page_inputs  # noqa: E402
from tinycrnn.pdf.layout import separate, split_box  # noqa: E402
from tinycrnn.pdf.render import PdfDocument, parse_pages  # noqa: E402
from tinycrnn.pdf.write import SearchablePdf  # noqa: E402

PDFTOTEXT = shutil.which("pdftotext")
needs_pdftotext = pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext (poppler-utils) is not installed")
FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Rows of words drawn one by one from the committed glyph masks (tests/textimg.py), so every word's true
#: box is known: prose with ordinary word spaces and receipt label/value rows.
ROWS = [["The", "quick", "brown", "fox", "jumps"], ["SUBTOTAL", "12.50"], ["Discount", "0.00"],
        ["Payment", "7.00"], ["ROUNDING", "2"]]


def write_pdf(path, pages, lossless=True):
    """A PDF of image-only ``pages`` [(image, dpi), ...] and optional text pages [((w, h), words, dpi)]."""
    with open(path, "wb") as f:
        pdf = SearchablePdf(f, jpeg_quality=None if lossless else 85)
        for page in pages:
            if isinstance(page[0], tuple):
                pdf.add_text_page(*page[0], page[1], page[2])
            else:
                pdf.add_page(page[0], [], page[1])
        pdf.close()
    return str(path)


def pdftotext_words(path, page=None):
    """[(text, (x0, y0, x1, y1) in points)] of the words poppler finds in ``path`` (one page or all)."""
    args = [PDFTOTEXT, "-bbox"] + (["-f", str(page), "-l", str(page)] if page else []) + [str(path), "-"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    return [(m.group(5), tuple(float(m.group(i)) for i in range(1, 5))) for m in re.finditer(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', out)]


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / u if u > 0 else 0.0


def word_page():
    """A white page with ROWS drawn word by word, and each word's ink box (x0, y0, x1, y1)."""
    img = np.full((520, 900, 3), 255, np.uint8)
    truth = []
    for r, row in enumerate(ROWS):
        x, y = 60, 80 + 95 * r
        for k, word in enumerate(row):
            alone = put_text(np.full_like(img, 255), word, (x, y), FONT, 1.0, (0, 0, 0), 2, cv2.LINE_AA)
            ys, xs = np.nonzero(alone.min(axis=2) < 128)
            put_text(img, word, (x, y), FONT, 1.0, (0, 0, 0), 2, cv2.LINE_AA)
            truth.append((word, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)))
            # prose: a word space of ~0.6 x-heights; receipts: a column gap
            x = xs.max() + (14 if r == 0 else 260)
    return img, truth


def test_writer_places_each_word_on_its_box(tmp_path):
    img = np.full((200, 400), 255, np.uint8)
    words = [("Hello", [[10, 10], [110, 10], [110, 40], [10, 40]]), ("wörld€", [[130, 12], [250, 12], [250, 44], [130, 44]])]
    with open(tmp_path / "a.pdf", "wb") as f:
        pdf = SearchablePdf(f)
        pdf.add_page(img, words, dpi=144)
        pdf.close()
    assert pdf.page_count == 1
    doc = PdfDocument(tmp_path / "a.pdf")
    assert doc.page_count == 1 and doc.text_chars(0) == len("Hellowörld€")
    page, dpi = doc.render(0, dpi=144)
    assert page.shape == (200, 400, 3) and abs(dpi - 144) < 0.01 and page.min() >= 250  # white page back
    doc.close()
    if shutil.which("qpdf"):  # structure, xref offsets and streams as a strict reader sees them
        check = subprocess.run(["qpdf", "--check", str(tmp_path / "a.pdf")], capture_output=True, text=True, timeout=60)
        assert check.returncode == 0 and "No syntax or stream encoding errors" in check.stdout, check.stdout + check.stderr
    if PDFTOTEXT:
        found = pdftotext_words(tmp_path / "a.pdf")
        assert [w for w, _ in found] == ["Hello", "wörld€"]
        for (_, box), (_, b) in zip(words, found):
            px = tuple(v * 2 for v in b)  # 144 dpi: 2 px per point
            assert iou((box[0][0], box[0][1], box[2][0], box[2][1]), px) > 0.95


def test_split_box_and_separate_keep_words_apart():
    words = split_box("12 Jalan  Besar", [[0, 0], [150, 0], [150, 10], [0, 10]])
    assert [w for w, _ in words] == ["12", "Jalan", "Besar"]
    assert words[1][1][0] == [30.0, 0.0] and words[1][1][1] == [80.0, 0.0]
    touching = [("a", [[0, 0], [50, 0], [50, 10], [0, 10]]), ("b", [[49, 0], [90, 0], [90, 10], [49, 10]])]
    (_, a), (_, b) = separate(touching)
    assert b[0][0] - a[1][0] == pytest.approx(2.0) and a[0] == [0, 0] and b[1] == [90, 0]


def test_parse_pages_selections_and_errors():
    assert parse_pages(None, 3) == [0, 1, 2]
    assert parse_pages("1-2, 5,7-", 8) == [0, 1, 4, 6, 7]
    assert parse_pages("3,1,3", 4) == [2, 0]
    for bad in ("0", "4-2", "x", "1-3,", "-", "9"):
        with pytest.raises(PdfError):
            parse_pages(bad, 8)


def test_pdf_pages_with_text_are_skipped_unless_forced(tmp_path):
    img = np.full((100, 200, 3), 255, np.uint8)
    path = write_pdf(tmp_path / "mixed.pdf", [(img, 72), ((200, 100), [("hi", [[5, 5], [40, 5], [40, 20], [5, 20]])], 72),
                                             (img, 72)])
    notes = []
    got = list(page_inputs([path], note=notes.append))
    assert [s for s, _, _ in got] == [f"{path}#page=1", f"{path}#page=3"]
    assert got[0][1].shape == (417, 834, 3)  # ceil(100 x 300 / 72), ceil(200 x 300 / 72)
    assert got[0][2] == pytest.approx(300, rel=1e-4)
    assert len(notes) == 1 and "page 2 already carries text" in notes[0] and "--force-ocr" in notes[0]
    assert len(list(page_inputs([path], pages="2", force_ocr=True, dpi=72, note=notes.append))) == 1


def test_huge_pdf_needs_pages_and_reads_only_those(tmp_path):
    path = write_pdf(tmp_path / "huge.pdf", [((20, 20), [], 72)] * 2000)
    (err,) = [src for _, src, _ in page_inputs([path])]
    assert isinstance(err, PdfError) and re.search("2000 pages.*--pages", str(err))
    got = list(page_inputs([path], pages="1999-2000", dpi=72))
    assert [s.rsplit("=", 1)[1] for s, _, _ in got] == ["1999", "2000"]
    (err,) = [src for _, src, _ in page_inputs([path], pages="2000-2001")]
    assert "page 2001 does not exist; the document has 2000 pages" in str(err)
    with pytest.raises(PdfError, match="none was given"):
        next(page_inputs(["a.png"], pages="1"))


def _encrypted_pdf(path):
    """A PDF whose standard security handler wants a user password (RC4 40-bit; the /U check value is random,
    so no password opens it: enough to test the refusal)."""
    o, u = "A" * 64, "B" * 64
    body = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] "
            b"/Count 0 >>\nendobj\n3 0 obj\n<< /Filter /Standard /V 1 /R 2 /O <" + o.encode() + b"> /U <"
            + u.encode() + b"> /P -44 >>\nendobj\n")
    xref = len(body)
    offs = [body.index(b"%d 0 obj" % i) for i in (1, 2, 3)]
    body += b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offs)
    body += (b"trailer\n<< /Size 4 /Root 1 0 R /Encrypt 3 0 R /ID [<00112233445566778899AABBCCDDEEFF> "
             b"<00112233445566778899AABBCCDDEEFF>] >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    path.write_bytes(body)
    return str(path)


def test_bad_pdfs_get_clear_errors(tmp_path):
    good = write_pdf(tmp_path / "good.pdf", [(np.full((50, 50, 3), 255, np.uint8), 72)])
    data = open(good, "rb").read()
    cases = {
        "not a PDF": (tmp_path / "png.pdf", cv2.imencode(".png", np.zeros((4, 4), np.uint8))[1].tobytes()),
        "no pages": (tmp_path / "empty.pdf", None),
        "damaged or truncated": (tmp_path / "cut.pdf", data[:120]),
        "encrypted and it needs a password": (tmp_path / "locked.pdf", None),
    }
    write_pdf(tmp_path / "empty.pdf", [])
    _encrypted_pdf(tmp_path / "locked.pdf")
    for what, (path, content) in cases.items():
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(PdfError) as err:
            PdfDocument(path)
        assert what in str(err.value) and str(path) in str(err.value), str(err.value)
    with pytest.raises(PdfError, match="no such file"):
        PdfDocument(tmp_path / "missing.pdf")


def test_pdf_input_without_the_extra_names_it(tmp_path, monkeypatch):
    import sys

    path = write_pdf(tmp_path / "a.pdf", [(np.full((20, 20, 3), 255, np.uint8), 72)])
    monkeypatch.setitem(sys.modules, "pypdfium2", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'tinycrnn\[pdf\]'"):
        PdfDocument(path)


def test_cli_bad_pdf_inputs_exit_2_with_one_line(tmp_path):
    huge = write_pdf(tmp_path / "huge.pdf", [((20, 20), [], 72)] * 2000)
    (tmp_path / "fake.pdf").write_bytes(b"hello, not a pdf")
    res = run_tinycrnn("read", huge, str(tmp_path / "fake.pdf"), "--backend", "numpy", timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "more than the 500 read at once" in res.stderr and "not a PDF file" in res.stderr  # both reported
    res = run_tinycrnn("read", str(tmp_path / "fake.pdf"), "--backend", "numpy", timeout=120)
    assert res.returncode == 2 and "not a PDF file" in res.stderr and "Traceback" not in res.stderr
    res = run_tinycrnn("read", huge, "--pages", "1000,2000", "--backend", "numpy", timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "", res.stderr  # blank pages: nothing to read


@needs_pdftotext
def test_searchable_pdf_word_boxes_overlap_the_drawn_words(tmp_path):
    """``tinycrnn read page.png --format pdf``: the text layer's words (pdftotext -bbox) lie on the drawn words."""
    img, truth = word_page()
    cv2.imwrite(str(tmp_path / "words.png"), img)
    out = tmp_path / "words.pdf"
    res = run_tinycrnn("read", str(tmp_path / "words.png"), "--format", "pdf", "-o", str(out), "--backend", "numpy",
                       timeout=300)
    assert res.returncode == 0, res.stderr
    px = 300 / 72.0  # image inputs are placed at 300 dpi
    layer = [(w, tuple(v * px for v in b)) for w, b in pdftotext_words(out)]
    best = [max((iou(box, b) for _, b in layer), default=0.0) for _, box in truth]
    hits = sum(v >= 0.5 for v in best)
    assert hits >= 0.9 * len(truth), list(zip([w for w, _ in truth], np.round(best, 2), [w for w, _ in layer]))
    doc = PdfDocument(out)
    page, _ = doc.render(0, dpi=300)
    doc.close()
    assert page.shape[:2] == img.shape[:2] and np.abs(page.astype(int) - img).mean() < 3  # the page image itself


def _page_tokens_f1(pred_lines, ref_lines):
    from tinycrnn.evaluate.metrics import page_tokens, prf

    pred, ref = page_tokens(pred_lines), page_tokens(ref_lines)
    return prf(sum((pred & ref).values()), sum(pred.values()), sum(ref.values()))[2]


@needs_pdftotext
def test_ocrmypdf_plugin_end_to_end_matches_tinycrnn_read(tmp_path):
    """A PDF of the shipped receipt and scan, through ``ocrmypdf --plugin tinycrnn.ocrmypdf``: pdftotext of the
    result reads what ``tinycrnn read`` prints for the same pages (token F1 >= 0.98 on each page)."""
    pytest.importorskip("ocrmypdf", reason="OCRmyPDF is not installed (pip install ocrmypdf; apt-get install "
                        "ghostscript qpdf)")
    from conftest import run_python

    pages = []
    for name in ("receipt.png", "phototest.png"):
        gray = cv2.imread(os.path.join(ROOT, "samples", name), cv2.IMREAD_GRAYSCALE)
        # gray, lossless, and at 144 dpi (page sizes exact in points): OCRmyPDF's rasteriser gives back these very
        # pixels (at 150 dpi 5% of them move: PDFium's float32 page size makes it resample at 150.01 dpi)
        pages.append((gray, 144))
    src = write_pdf(tmp_path / "in.pdf", pages)
    out = tmp_path / "out.pdf"
    res = run_python("-m", "ocrmypdf", "--plugin", "tinycrnn.ocrmypdf", "-j", "1",
                     "--output-type", "pdf", "--optimize", "0", src, str(out), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    read = run_tinycrnn("read", src, "--dpi", "144", "--format", "json", "--backend", "numba", timeout=300)
    assert read.returncode == 0, read.stderr
    import json

    printed = [[line["text"] for line in json.loads(rec)["text"]] for rec in read.stdout.splitlines() if rec.strip()]
    assert len(printed) == 2 and all(printed)
    for k, lines in enumerate(printed, 1):
        layer = subprocess.run([PDFTOTEXT, "-f", str(k), "-l", str(k), str(out), "-"], capture_output=True,
                               text=True, timeout=60, check=True).stdout.splitlines()
        assert _page_tokens_f1(layer, lines) >= 0.98, (layer, lines)


def test_ocrmypdf_engine_hocr_and_sandwich_outputs(tmp_path):
    """The engine's other two outputs: hOCR that OCRmyPDF's own parser reads, and a text-only page PDF."""
    pytest.importorskip("ocrmypdf", reason="OCRmyPDF is not installed")
    from types import SimpleNamespace

    from ocrmypdf.hocrtransform import HocrParser

    from tinycrnn.ocrmypdf import TinyCRNNEngine, get_ocr_engine

    assert get_ocr_engine(SimpleNamespace(ocr_engine="none")) is None
    engine = get_ocr_engine(SimpleNamespace(ocr_engine="auto"))
    assert "tinycrnn" in str(engine) and "eng" in engine.languages(None)
    opts = SimpleNamespace(tinycrnn_backend=None, tinycrnn_model=None, tinycrnn_min_confidence=0.0)
    from PIL import Image

    img = Image.open(os.path.join(ROOT, "samples", "receipt.png"))
    img.save(tmp_path / "page.png", dpi=(150, 150))
    TinyCRNNEngine.generate_hocr(tmp_path / "page.png", tmp_path / "p.hocr", tmp_path / "p.txt", opts)
    page = HocrParser(tmp_path / "p.hocr").parse()
    text = (tmp_path / "p.txt").read_text()
    assert "TOTAL" in text and [w.text for w in page.words] == text.split()
    TinyCRNNEngine.generate_pdf(tmp_path / "page.png", tmp_path / "p.pdf", tmp_path / "p2.txt", opts)
    doc = PdfDocument(tmp_path / "p.pdf")
    w_pt, h_pt = doc._doc[0].get_size()
    assert doc.text_chars(0) == len("".join(text.split())) and w_pt == pytest.approx(520 * 72 / 150, rel=1e-3)
    doc.close()
