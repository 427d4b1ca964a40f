"""tinycrnn eval: protocol normalisation, CER, confusions, dataset parsing errors, page metrics, CLI."""
import json
import os
import shutil

import pytest

from conftest import SAMPLES, run_tinycrnn as run
from tinycrnn.errors import DatasetError, TinyCRNNError
from tinycrnn.evaluate import (
    Confusions,
    box_iou,
    cer,
    edit_distance,
    edit_ops,
    evaluate_pages,
    match_boxes,
    normalize,
    open_dataset,
    page_tokens,
    prf,
    read_labels,
    score_page,
)

LINES = {"hello_world.png": "Hello World", "invoice_line.png": "Invoice #2024-0117",
         "who_cook.png": "Thoroughly cook meat and eggs"}


@pytest.fixture
def line_set(tmp_path):
    d = tmp_path / "lines"
    (d / "images").mkdir(parents=True)
    rows = []
    for fn, text in LINES.items():
        shutil.copy(os.path.join(SAMPLES, fn), d / "images" / fn)
        rows.append(f"images/{fn}\t{text}")
    (d / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return d


# --- protocols ---------------------------------------------------------------------------------

def test_normalize_word_lowercases_and_keeps_only_ascii_alnum():
    assert normalize("Café-42!", "word") == "caf42"
    assert normalize("STATE", "word") == normalize("state.", "word") == "state"
    assert normalize("  ", "word") == ""


def test_normalize_line_is_case_insensitive_and_collapses_whitespace_but_keeps_punctuation():
    assert normalize("  TOTAL \t RM  5.00 ", "line") == "total rm 5.00"
    assert normalize("80.00", "line") != normalize("80 00", "line")


def test_normalize_zh_is_nfkc_without_whitespace_or_middle_dot():
    assert normalize("皖A·0V788", "zh") == "皖A0V788"
    assert normalize("价格：１２，Ａ Ｂ", "zh") == "价格:12,AB"
    assert normalize("Ab", "zh") == "Ab"  # case kept


def test_normalize_unknown_protocol_is_a_typed_error():
    with pytest.raises(DatasetError, match="unknown protocol"):
        normalize("x", "nope")


# --- CER and confusions -------------------------------------------------------------------------

def test_edit_distance_known_pairs():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3
    assert edit_distance("flaw", "lawn") == 2


def test_cer_is_total_distance_over_total_label_length():
    assert cer([("kitten", "sitting")]) == pytest.approx(3 / 6)
    assert cer([("abc", "abc"), ("abcd", "")]) == pytest.approx(4 / 7)
    assert cer([("", "")]) == 0.0


def test_edit_ops_alignment_cost_matches_distance():
    for a, b in [("kitten", "sitting"), ("80.00", "8000"), ("", "ab"), ("hello", "hallo")]:
        ops = edit_ops(a, b)
        assert sum(op != "=" for op, _, _ in ops) == edit_distance(a, b)
        assert "".join(r for _, r, _ in ops) == a and "".join(h for _, _, h in ops) == b


def test_confusion_summary_on_known_pairs():
    c = Confusions()
    c.add("hello", "hallo")
    c.add("36.00", "36,00")
    c.add("36.00", "36,00")
    c.add("80.00", "8000")
    c.add("abc", "abcd")
    s = c.summary()
    assert s["substitutions"][0] == [".", ",", 2]
    assert ["e", "a", 1] in s["substitutions"]
    assert s["deletions"] == [[".", 1]]
    assert s["insertions"] == [["d", 1]]


# --- datasets and their errors ------------------------------------------------------------------

def test_open_dataset_reads_labels_and_guesses_line_protocol(line_set):
    ds = open_dataset(str(line_set))
    assert ds.kind == "lines" and len(ds.items) == 3 and ds.protocol == "line"
    assert ds.items[0].text == "Hello World" and os.path.isfile(ds.items[0].path)


def test_open_dataset_protocol_from_readme(line_set):
    (line_set / "README.md").write_text("Protocol: case-insensitive, alphanumeric only.\n", encoding="utf-8")
    assert open_dataset(str(line_set)).protocol == "word"
    (line_set / "README.md").write_text("apply unicodedata.normalize('NFKC', s)\n", encoding="utf-8")
    assert open_dataset(str(line_set)).protocol == "zh"


def test_open_dataset_accepts_a_tsv_file_and_skips_a_header(line_set):
    (line_set / "labels_two.tsv").write_text("path\ttext\nimages/hello_world.png\tHello World\n", encoding="utf-8")
    ds = open_dataset(str(line_set / "labels_two.tsv"))
    assert ds.name.endswith("/labels_two") and [it.text for it in ds.items] == ["Hello World"]


def test_missing_folder_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="no such dataset"):
        open_dataset(str(tmp_path / "nope"))


def test_folder_without_labels_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="no labels.tsv"):
        open_dataset(str(tmp_path))


def test_bad_encoding_names_the_line(tmp_path):
    (tmp_path / "labels.tsv").write_bytes(b"a.png\tok\nb.png\t\xff\xfebad\n")
    with pytest.raises(DatasetError, match=r"line 2: not valid UTF-8"):
        read_labels(str(tmp_path / "labels.tsv"))


def test_empty_file_is_a_dataset_error(tmp_path):
    (tmp_path / "labels.tsv").write_bytes(b"")
    with pytest.raises(DatasetError, match="empty"):
        read_labels(str(tmp_path / "labels.tsv"))
    (tmp_path / "labels.tsv").write_bytes(b"\n\n  \n")
    with pytest.raises(DatasetError, match="empty"):
        read_labels(str(tmp_path / "labels.tsv"))


def test_malformed_line_names_the_line(line_set):
    (line_set / "labels.tsv").write_text("images/hello_world.png\tHello World\nno tab here\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"line 2: expected 2 tab-separated fields"):
        open_dataset(str(line_set))


def test_listed_image_missing_is_a_dataset_error(line_set):
    (line_set / "labels.tsv").write_text("images/gone.png\tX\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="1 of 1 listed images do not exist"):
        open_dataset(str(line_set))


def test_dataset_error_is_a_value_error_and_tinycrnn_error():
    assert issubclass(DatasetError, ValueError) and issubclass(DatasetError, TinyCRNNError)


# --- page metrics -------------------------------------------------------------------------------

def test_box_iou_on_hand_made_boxes():
    a = [0, 0, 10, 0, 10, 10, 0, 10]
    assert box_iou(a, a) == pytest.approx(1.0)
    assert box_iou(a, [5, 0, 15, 0, 15, 10, 5, 10]) == pytest.approx(50 / 150)
    assert box_iou(a, [20, 20, 30, 20, 30, 30, 20, 30]) == 0.0
    assert box_iou(a, [(0, 10), (10, 10), (10, 0), (0, 0)]) == pytest.approx(1.0)  # other winding
    diamond = [5, 0, 10, 5, 5, 10, 0, 5]  # rotated square inside a: area 50
    assert box_iou(a, diamond) == pytest.approx(0.5)
    assert box_iou([0, 0, 10, 10], a) == pytest.approx(1.0)  # x0, y0, x1, y1 form


def test_match_boxes_is_one_to_one_at_iou_half():
    gt = [[0, 0, 10, 0, 10, 10, 0, 10], [20, 0, 30, 0, 30, 10, 20, 10]]
    pred = [[0, 0, 10, 0, 10, 10, 0, 10], [1, 0, 11, 0, 11, 10, 1, 10], [22, 0, 40, 0, 40, 10, 22, 10]]
    m = match_boxes(pred, gt, 0.5)
    assert sorted((i, j) for i, j, _ in m) == [(0, 0)]  # pred 1 duplicates gt 0; pred 2 has IoU 8/20 < 0.5
    assert prf(len(m), len(pred), len(gt)) == pytest.approx((1 / 3, 1 / 2, 0.4))


def test_page_tokens_are_case_insensitive_multisets():
    assert page_tokens(["TOTAL 5.00", "total  5.00 5.00"]) == {"total": 2, "5.00": 3}


def test_score_page_detection_and_tokens():
    gt = [([0, 0, 100, 0, 100, 20, 0, 20], "TOTAL RM 5.00"), ([0, 30, 100, 30, 100, 50, 0, 50], "THANK YOU")]
    pred = [([2, 1, 98, 1, 98, 19, 2, 19], "total rm 5.00 5.00"), ([0, 200, 10, 200, 10, 210, 0, 210], "junk")]
    s = score_page(pred, gt)
    assert (s.n_pred, s.n_gt, s.det_tp) == (2, 2, 1)
    assert (s.tok_pred, s.tok_gt, s.tok_tp) == (5, 5, 3)
    assert s.tokens == pytest.approx((0.6, 0.6, 0.6))
    assert s.matched_pairs == [("TOTAL RM 5.00", "total rm 5.00 5.00")]


def test_score_page_null_boxes_count_for_tokens_only():
    s = score_page([(None, "Hello World")], [(None, "hello world")])
    assert (s.n_pred, s.n_gt, s.det_tp, s.tok_tp) == (0, 0, 0, 2)


def _page_set(tmp_path, box):
    d = tmp_path / "pages"
    (d / "images").mkdir(parents=True)
    (d / "annotations").mkdir()
    shutil.copy(os.path.join(SAMPLES, "hello_world.png"), d / "images" / "p1.png")
    (d / "annotations" / "p1.json").write_text(json.dumps({"image": "images/p1.png", "lines": [
        {"box": box, "text": "HELLO WORLD"}]}), encoding="utf-8")
    (d / "pages.tsv").write_text("images/p1.png\tannotations/p1.json\n", encoding="utf-8")
    return d


def test_evaluate_pages_hook_scores_any_reader(tmp_path):
    import cv2

    d = _page_set(tmp_path, None)
    h, w = cv2.imread(str(d / "images" / "p1.png")).shape[:2]
    d = _page_set(tmp_path / "b", [0, 0, w - 1, 0, w - 1, h - 1, 0, h - 1])

    class Line:
        def __init__(self, text, box):
            self.text, self.box, self.confidence = text, box, 0.9

    class FakeOCR:
        def read(self, image):
            return [Line("Hello World", [(0, 0), (w - 1, 0), (w - 1, h - 1), (0, h - 1)]), Line("extra", [(0, 0), (1, 0), (1, 1), (0, 1)])]

    res = evaluate_pages(open_dataset(str(d)), FakeOCR(), progress=False)
    s = res.summary
    assert s["n"] == 1 and s["det_recall"] == 1.0 and s["det_precision"] == 0.5
    assert s["token_recall"] == 1.0 and s["token_precision"] == pytest.approx(2 / 3)
    assert s["matched_line_cer"] == 0.0
    assert s["page_cer"] == pytest.approx(len(" extra") / len("hello world"))


def test_evaluate_pages_without_gt_boxes_scores_tokens_but_not_detection(tmp_path):
    d = _page_set(tmp_path, None)

    class FakeOCR:
        def read(self, image):
            return [type("L", (), {"text": "hello world", "box": [[0, 0], [5, 0], [5, 5], [0, 5]]})()]

    s = evaluate_pages(open_dataset(str(d)), FakeOCR(), progress=False).summary
    assert s["det_precision"] is None and s["det_f1"] is None and s["matched_line_cer"] is None
    assert s["token_f1"] == 1.0 and s["page_cer"] == 0.0


def test_page_annotation_with_a_bad_box_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="box must be 8 numbers"):
        open_dataset(str(_page_set(tmp_path, [1, 2, 3])))


def test_progress_draws_only_on_a_tty():
    import io

    from tinycrnn.evaluate.progress import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        with Progress(3, "set", stream=stream) as bar:
            bar.update(3)
    assert "\rset [" in tty.getvalue() and "3/3" in tty.getvalue()
    assert pipe.getvalue() == ""
    quiet = Tty()
    with Progress(3, "set", stream=quiet, enabled=False) as bar:
        bar.update(3)
    assert quiet.getvalue() == ""


# --- the command --------------------------------------------------------------------------------

def test_cli_eval_on_a_tiny_line_set(line_set, tmp_path):
    out = tmp_path / "preds.tsv"
    p = run("eval", str(line_set), "--out", str(out), "--quiet")
    assert p.returncode == 0, p.stderr
    row = [ln for ln in p.stdout.splitlines() if ln.startswith("lines ")][0].split()
    assert row[1:4] == ["line", "3", "100.00"]
    preds = out.read_text(encoding="utf-8").splitlines()
    assert preds[0].split("\t") == ["dataset", "path", "label", "prediction", "confidence", "correct", "edit_distance"]
    assert len(preds) == 4 and all(r.split("\t")[5] == "1" for r in preds[1:])


def test_cli_eval_word_protocol_json(line_set):
    p = run("eval", str(line_set), "--protocol", "word", "--json", "--limit", "2")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout.splitlines()[0])
    assert s["protocol"] == "word" and s["n"] == 2 and s["accuracy"] == 100.0 and s["cer"] == 0.0


def test_cli_eval_page_set_falls_back_to_line_crops(tmp_path):
    import cv2

    h, w = cv2.imread(os.path.join(SAMPLES, "hello_world.png")).shape[:2]
    d = _page_set(tmp_path, [0, 0, w - 1, 0, w - 1, h - 1, 0, h - 1])
    p = run("eval", str(d), "--quiet", "--json")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout.splitlines()[0])
    if s["protocol"] == "page":  # the page pipeline exists: it read the page
        assert s["n"] == 1
    else:
        assert s["protocol"] == "line" and s["n"] == 1 and s["accuracy"] == 100.0
        assert "line crops" in p.stderr


@pytest.mark.parametrize("setup, message", [
    (lambda d: None, "no such dataset"),
    (lambda d: (d.mkdir(), (d / "labels.tsv").write_bytes(b"")), "empty"),
    (lambda d: (d.mkdir(), (d / "labels.tsv").write_bytes(b"x.png\t\xe9t\xe9\n")), "not valid UTF-8"),
    (lambda d: (d.mkdir(), (d / "labels.tsv").write_text("just-a-path\n")), "line 1: expected 2 tab-separated"),
])
def test_cli_eval_errors_are_one_line_and_exit_2(tmp_path, setup, message):
    d = tmp_path / "ds"
    setup(d)
    p = run("eval", str(d))
    assert p.returncode == 2
    assert message in p.stderr and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
