"""Output formats: hOCR passes hocr-tools' hocr-check (and hocr-spec), ALTO validates against the
official v4 XSD (tests/data/alto), TSV has Tesseract's columns, the JSON shape stays put, the registry,
and ``tinycrnn read --format`` end to end."""
import csv
import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import DATA, SAMPLES, run_tinycrnn
from tinycrnn.errors import OutputFormatError
from tinycrnn.formats import FORMATS, DocPage, get_writer, open_writer, register_format
from tinycrnn.page.pipeline import PageLine, PageResult
from tinycrnn.page.words import Word

ALTO_XSD = os.path.join(DATA, "alto", "alto-4-3.xsd")


def _word(text, x0, y0, x1, y1, conf=0.9):
    return Word(text, conf, [conf] * len(text), [[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def _page(n_lines=2, width=400, height=200, text="Tax & <total> \"12\""):
    lines = []
    for i in range(n_lines):
        y = 20 + 40 * i
        words, x = [], 20
        for t in text.split():
            words.append(_word(t, x, y, x + 12 * len(t), y + 20, 0.5 + 0.1 * i))
            x += 12 * len(t) + 10
        lines.append(PageLine(" ".join(w.text for w in words), 0.8, [[20, y], [x, y], [x, y + 20], [20, y + 20]], words))
    return PageResult(lines, 1.0, {}, width, height)


def _doc(name, pages, **options):
    buf = io.StringIO()
    w = get_writer(name)(buf, **options)
    for k, p in enumerate(pages, 1):
        w.add(DocPage(p, f"page{k}.png", number=k))
    w.close()
    return buf.getvalue()


def _tool(name):
    path = os.path.join(os.path.dirname(sys.executable), name)
    return path if os.path.exists(path) else shutil.which(name)


def _hocr_check(path, *opts):
    tool = _tool("hocr-check")
    if tool is None:
        pytest.skip("hocr-check not installed (pip install hocr-tools; in the test extra)")
    p = subprocess.run([tool, *opts, str(path)], capture_output=True, text=True, timeout=60)
    report = p.stdout + p.stderr
    assert p.returncode == 0 and "ok 1" in report and "not ok" not in report, report


def test_hocr_passes_hocr_check(tmp_path):
    f = tmp_path / "one.hocr"
    f.write_text(_doc("hocr", [_page(3)]), encoding="utf-8")
    _hocr_check(f)


def test_multi_page_hocr_passes_hocr_check_and_hocr_spec(tmp_path):
    f = tmp_path / "two.hocr"
    doc = _doc("hocr", [_page(2), _page(1, 300, 100)])
    f.write_text(doc, encoding="utf-8")
    assert doc.count('class="ocr_page"') == 2 and "ppageno 1" in doc
    # NOTE: hocr-check 1.1.1 compares the lines of every page with those of every other page (its
    # overlap xpath is absolute), so a multi-page document runs with -o (no overlap checks);
    # single pages get the full check above.
    _hocr_check(f, "-o")
    spec = _tool("hocr-spec")
    if spec is None:
        pytest.skip("hocr-spec not installed (pip install hocr-spec; in the test extra)")
    p = subprocess.run([spec, str(f)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "Document is valid" in p.stdout + p.stderr, p.stdout + p.stderr


def _alto_schema():
    etree = pytest.importorskip("lxml.etree", reason="lxml not installed (in the test extra)")

    class Local(etree.Resolver):
        def resolve(self, url, pubid, context):
            # NOTE: the XSD imports xlink from loc.gov; the committed copy is used, never the network
            if url.endswith("xlink.xsd"):
                return self.resolve_filename(os.path.join(DATA, "alto", "xlink.xsd"), context)
            return None

    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(Local())
    return etree, etree.XMLSchema(etree.parse(ALTO_XSD, parser))


def test_alto_validates_against_the_v4_xsd_single_and_multi_page():
    etree, schema = _alto_schema()
    for pages in ([_page(2)], [_page(2), _page(1, 300, 100), PageResult([], 0.0, {}, 50, 50)]):
        doc = etree.fromstring(_doc("alto", pages).encode("utf-8"))
        assert schema.validate(doc), schema.error_log
    ns = {"a": "http://www.loc.gov/standards/alto/ns-v4#"}
    strings = doc.findall(".//a:String", ns)
    assert [s.get("CONTENT") for s in strings[:4]] == ["Tax", "&", "<total>", '"12"']
    assert len(doc.findall(".//a:Page", ns)) == 3 and strings[0].get("CC") == "4 4 4"  # 9 x (1 - 0.5), rounded half to even


def test_tsv_has_tesseract_columns_and_levels():
    text = _doc("tsv", [_page(2), _page(1)])
    rows = list(csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows[0] == ["level", "page_num", "block_num", "par_num", "line_num", "word_num", "left", "top",
                       "width", "height", "conf", "text"]
    assert all(len(r) == 12 for r in rows)
    words = [r for r in rows[1:] if r[0] == "5"]
    assert len(words) == 3 * 4 and words[0][6:] == ["20", "20", "36", "20", "50.0", "Tax"]
    assert [r[1] for r in rows[1:] if r[0] == "1"] == ["1", "2"]
    assert all(r[10] == "-1" for r in rows[1:] if r[0] != "5")


def test_page_json_shape_is_stable():
    d = _page(1).to_dict()
    assert set(d) == {"text", "total_time_ms", "timings_ms"}
    line = d["text"][0]
    assert set(line) == {"text", "confidence", "box", "words"}
    assert set(line["words"][0]) == {"text", "confidence", "char_confidences", "box"}
    assert line["words"][0]["box"] == [[20, 20], [56, 20], [56, 40], [20, 40]]
    json.dumps(d)


def test_registry_rejects_duplicates_and_names_known_formats(monkeypatch):
    assert list(FORMATS)[:5] == ["text", "json", "tsv", "hocr", "alto"]
    with pytest.raises(OutputFormatError):
        register_format("hocr", "x:Y", ".x")
    with pytest.raises(OutputFormatError, match="known: text, json"):
        get_writer("docx")
    # a new format is one registration; a writer whose module needs a missing extra names the extra
    monkeypatch.setitem(FORMATS, "fake", FORMATS["hocr"].__class__("fake", "tinycrnn_no_such_module:W", ".f",
                                                                    True, "pdf"))
    with pytest.raises(ImportError, match=r"tinycrnn\[pdf\]"):
        get_writer("fake")


def test_open_writer_writes_a_file(tmp_path):
    out = tmp_path / "x.hocr"
    with open_writer("hocr", str(out)) as w:
        w.add(DocPage(_page(1), "a.png"))
    assert out.read_text(encoding="utf-8").rstrip().endswith("</html>")


def test_cli_format_hocr_alto_tsv_on_two_pages(tmp_path):
    images = [os.path.join(SAMPLES, "receipt.png"), os.path.join(SAMPLES, "hello_world.png")]
    for fmt in ("hocr", "alto", "tsv"):
        out = tmp_path / f"out.{fmt}"
        p = run_tinycrnn("read", *images, "--format", fmt, "-o", str(out))
        assert p.returncode == 0, p.stderr
        text = out.read_text(encoding="utf-8")
        assert "Hello" in text and "TOTAL" in text
        if fmt == "alto":
            etree, schema = _alto_schema()
            doc = etree.parse(str(out))
            assert schema.validate(doc), schema.error_log
        elif fmt == "hocr":
            assert text.count('class="ocr_page"') == 2
            _hocr_check(out, "-o")
        else:
            assert {r.split("\t")[1] for r in text.splitlines()[1:]} == {"1", "2"}


def test_cli_json_and_line_mode_words():
    p = run_tinycrnn("read", "--format", "json", os.path.join(SAMPLES, "hello_world.png"))
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert [w["text"] for ln in obj["text"] for w in ln["words"]] == ["Hello", "World"]
    p = run_tinycrnn("read", "--line", "--json", os.path.join(SAMPLES, "who_cook.png"))
    obj = json.loads(p.stdout)
    assert set(obj) == {"image", "text", "confidence", "char_confidences", "words", "total_time_ms"}
    assert " ".join(w["text"] for w in obj["words"]) == " ".join(obj["text"].split())
    p = run_tinycrnn("read", "--json", "--format", "tsv", os.path.join(SAMPLES, "hello_world.png"))
    assert p.returncode == 2 and "disagree" in p.stderr


def test_cli_bad_image_among_good_ones_still_writes_the_document(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    out = tmp_path / "out.hocr"
    p = run_tinycrnn("read", str(bad), os.path.join(SAMPLES, "hello_world.png"), "--format", "hocr", "-o", str(out))
    assert p.returncode == 2 and "bad.png" in p.stderr
    text = out.read_text(encoding="utf-8")
    assert text.count('class="ocr_page"') == 1 and 'id="page_1"' in text
