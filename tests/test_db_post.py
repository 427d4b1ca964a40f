"""DB detector post-processing, line crops and orientation (tinycrnn.page.db / offset / crop / orient).

Synthetic probability maps and images only; the comparison with pyclipper runs when pyclipper is
installed and otherwise checks committed outputs of pyclipper 1.4.0 (``EXPECTED_OFFSETS``). The
end-to-end tests need the DB models (engine files, or onnxruntime and ``../shared``) and skip without them.
"""
import math
import os
import sys
from collections import Counter

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinycrnn
from conftest import SAMPLES
from textimg import put_text
from tinycrnn.errors import InputTypeError, ModelNotFoundError
from tinycrnn.page.choose import db_installed, make_detector, trim_rows
from tinycrnn.page.crop import warp_crop
from tinycrnn.page.db import DBDetector, boxes_from_map, det_input, mini_box, order_clockwise
from tinycrnn.page.offset import clipper_offset, grow_rect, unclip_distance
from tinycrnn.page.orient import Orienter, cls_input


def rotated_rect(cx, cy, w, h, angle):
    return order_clockwise(cv2.boxPoints(((cx, cy), (w, h), angle)))


def side_lengths(box):
    b = np.asarray(box, np.float64)
    return sorted((np.hypot(*(b[1] - b[0])), np.hypot(*(b[3] - b[0]))))


# pyclipper 1.4.0 PyclipperOffset(JT_ROUND, ET_CLOSEDPOLYGON).Execute(area * 1.6 / perimeter) on these boxes
EXPECTED_OFFSETS = [
    ([[10.2, 20.7], [110.9, 20.1], [111.4, 40.6], [10.8, 41.3]],
     [[115, 7], [119, 10], [122, 14], [124, 19], [125, 39], [124, 44], [121, 49], [117, 52], [111, 54], [10, 55],
      [5, 54], [1, 51], [-2, 47], [-4, 41], [-4, 20], [-3, 15], [0, 11], [4, 8], [10, 6], [110, 6]]),
    ([[35.6, 80.4], [300.2, 120.9], [296.1, 147.3], [31.5, 106.8]],
     [[303, 101], [309, 103], [314, 106], [317, 111], [319, 117], [319, 123], [315, 150], [313, 156], [310, 161],
      [305, 164], [299, 166], [293, 166], [28, 125], [22, 123], [17, 120], [14, 115], [12, 109], [12, 103], [16, 77],
      [18, 71], [21, 66], [26, 63], [32, 61], [38, 61]]),
]


def test_unclip_distance_is_area_times_ratio_over_perimeter():
    box = [[0, 0], [100, 0], [100, 20], [0, 20]]
    assert unclip_distance(box, 1.5) == pytest.approx(2000 * 1.5 / 240)


def test_clipper_offset_matches_committed_pyclipper_output():
    for box, want in EXPECTED_OFFSETS:
        got = clipper_offset(np.array(box, np.float32), unclip_distance(np.array(box, np.float32), 1.6))
        assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, want))


def test_clipper_offset_matches_pyclipper_on_random_boxes():
    pyclipper = pytest.importorskip("pyclipper", reason="pyclipper not installed: committed outputs checked instead")
    rng = np.random.default_rng(0)
    for _ in range(2000):
        # NOTE: short side >= 3 px as DB keeps them, so the distance is > 1 px
        box = cv2.boxPoints((tuple(rng.uniform(-20, 900, 2)), (rng.uniform(3, 400), rng.uniform(3, 60)), rng.uniform(-90, 90)))
        if rng.random() < 0.3:
            box = np.round(box)
        d = unclip_distance(box, float(rng.choice([1.5, 1.6, 2.0])))
        off = pyclipper.PyclipperOffset()
        off.AddPath(box, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
        want = off.Execute(d)
        got = clipper_offset(box, d)
        assert len(want) == 1
        assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, want[0])), (box.tolist(), d)


def test_growing_the_rectangle_is_the_offsets_min_area_rect_within_truncation():
    rng = np.random.default_rng(1)
    for _ in range(300):
        box = cv2.boxPoints((tuple(rng.uniform(50, 900, 2)), (rng.uniform(5, 400), rng.uniform(5, 60)), rng.uniform(-90, 90)))
        d = unclip_distance(box, 1.6)
        exact, _ = mini_box(clipper_offset(box, d))
        grown = grow_rect(order_clockwise(box), d)
        # NOTE: pyclipper truncates the corners to integers (up to 1 px per side) and rounds its output
        assert np.allclose(side_lengths(exact), side_lengths(grown), atol=3.0)
        assert np.abs(exact.mean(0) - grown.mean(0)).max() < 1.5


def test_degenerate_boxes_give_no_offset():
    assert clipper_offset(np.array([[0.2, 0.3], [0.9, 0.1], [0.5, 0.8], [0.1, 0.7]]), 2.0).shape == (0, 2)


@pytest.mark.parametrize("angle", [0.0, 7.0, -12.0, 30.0])
def test_rotated_rectangles_on_a_map_come_back_as_their_boxes(angle):
    prob = np.zeros((400, 600), np.float32)
    truth = [rotated_rect(200, 100, 240, 24, angle), rotated_rect(330, 280, 300, 30, angle)]
    for b in truth:
        cv2.fillPoly(prob, [np.round(b).astype(np.int32)], 0.9)
    found = boxes_from_map(prob, unclip_ratio=1.6)
    assert len(found) == 2
    for b in truth:
        got, score = min(found, key=lambda f: np.abs(f[0].mean(0) - b.mean(0)).max())
        assert 0.8 < score <= 0.9  # the min-area rectangle of the dilated contour takes in a rim of zeros
        # the region grown by the unclip offset; filling the polygon and the 2x2 dilation make it 1-3 px larger
        region = grow_rect(b, 1.0)
        assert np.allclose(side_lengths(got), side_lengths(grow_rect(region, unclip_distance(region, 1.6))), atol=3.5)
        assert np.abs(got.mean(0) - b.mean(0)).max() < 1.5
        tilt = math.degrees(math.atan2(*(got[1] - got[0])[::-1]))
        assert min(abs(tilt - a) for a in (angle, angle - 90, angle + 90)) < 1.5


def test_faint_small_and_empty_regions_are_dropped():
    prob = np.zeros((200, 200), np.float32)
    cv2.rectangle(prob, (20, 20), (120, 40), 0.4, -1)  # above thresh, mean below box_thresh
    cv2.rectangle(prob, (20, 100), (120, 101), 0.9, -1)  # 2 px high
    assert boxes_from_map(prob) == []
    assert boxes_from_map(np.zeros((64, 64), np.float32)) == []


def test_det_input_sizes_are_multiples_of_32_and_short_side_at_least_736():
    x, rh, rw = det_input(np.zeros((500, 1000, 3), np.uint8))
    assert x.shape == (1, 3, 736, 1472) and x.dtype == np.float32
    assert rh == pytest.approx(736 / 500) and rw == pytest.approx(1472 / 1000)
    x, _, _ = det_input(np.full((3000, 1500, 3), 255, np.uint8))
    assert x.shape == (1, 3, 1984, 992) and x.max() == 1.0  # 2000 / 32 = 62.5 rounds half to even, as in RapidOCR


class FakeDet:
    """A 'network' that marks the dark pixels of the (resized) page as text."""

    def forward(self, x):
        return (x[:, :1] < 0).astype(np.float32) * 0.95


def test_db_detector_maps_boxes_to_page_coordinates():
    page = np.full((300, 500, 3), 255, np.uint8)
    box = rotated_rect(250, 150, 300, 30, 10.0)
    cv2.fillPoly(page, [np.round(box).astype(np.int32)], (0, 0, 0))
    det = DBDetector(model=FakeDet(), orient=False)
    (got,) = det.detect(page)
    assert np.abs(got.mean(0) - box.mean(0)).max() < 2.0
    assert side_lengths(got)[0] > 30 and side_lengths(got)[1] > 300  # grown by the unclip offset


def test_warp_crop_is_upright_and_tall_crops_are_turned():
    img = np.full((400, 400, 3), 255, np.uint8)
    box = rotated_rect(200, 200, 200, 40, 20.0)
    left = order_clockwise(np.array([box[0], (box[0] + box[1]) / 2, (box[3] + box[2]) / 2, box[3]]))
    cv2.fillPoly(img, [np.round(left).astype(np.int32)], (0, 0, 0))  # the line's left half is dark
    crop = warp_crop(img, box)
    assert crop.shape[1] > 4 * crop.shape[0]
    assert crop[:, : crop.shape[1] // 3].mean() < 60 and crop[:, -crop.shape[1] // 3 :].mean() > 200
    tall = warp_crop(img, rotated_rect(200, 200, 30, 120, 0.0))
    assert tall.shape[1] > tall.shape[0]


class FakeCls:
    def __init__(self, p180):
        self.p180 = p180

    def forward(self, x):
        assert x.shape[1:] == (3, 48, 192)
        return np.array([[1 - self.p180, self.p180]] * len(x), np.float32)


def test_orienter_turns_only_confident_upside_down_lines():
    crop = np.arange(2 * 10 * 3, dtype=np.uint8).reshape(2, 10, 3)
    out, flipped = Orienter(FakeCls(0.95))([crop])
    assert flipped == [True] and np.array_equal(out[0], crop[::-1, ::-1])
    out, flipped = Orienter(FakeCls(0.85), page_vote=0)([crop])
    assert flipped == [False] and out[0] is crop


def test_cls_input_keeps_aspect_and_pads_with_zero():
    x = cls_input([np.full((24, 40, 3), 255, np.uint8), np.zeros((10, 400), np.uint8)])
    assert x.shape == (2, 3, 48, 192)
    assert np.all(x[0, :, :, :80] == 1.0) and np.all(x[0, :, :, 80:] == 0.0)
    assert np.all(x[1] == -1.0)


def test_trim_rows_keeps_at_least_a_row():
    assert trim_rows(np.zeros((20, 5)), 0.05).shape == (18, 5)
    assert trim_rows(np.zeros((1, 5)), 0.5).shape == (1, 5)


def test_detector_option_names():
    assert type(make_detector("lines")).__name__ == "LineDetector"
    with pytest.raises(InputTypeError, match="auto, db, lines"):
        tinycrnn.OCR(detector="bogus")
    with pytest.raises(InputTypeError):
        tinycrnn.OCR(detector=42)
    if not db_installed():
        with pytest.raises(ModelNotFoundError, match="ppocrv4_det"):
            tinycrnn.OCR(detector="db")
        assert type(make_detector("auto")).__name__ == "LineDetector"
    else:
        assert type(make_detector("auto")).__name__ == "AutoDetector"


class BoxDetector:
    """A learned-style detector returning one fixed 4-point box, no orienter."""

    learned = True
    orienter = None

    def __init__(self, box):
        self.box = box

    def detect(self, image):
        return [self.box]


def test_learned_path_reads_a_rotated_line_and_returns_its_polygon():
    line = np.full((60, 420, 3), 255, np.uint8)
    put_text(line, "Total 45.60", (10, 42), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2, cv2.LINE_AA)
    M = cv2.getRotationMatrix2D((300, 200), 8.0, 1.0)
    M[:, 2] += (300 - 210, 200 - 30)
    page = cv2.warpAffine(line, M, (600, 400), borderValue=(255, 255, 255))
    box = np.array([[0, 0], [420, 0], [420, 60], [0, 60]], np.float64) @ M[:, :2].T + M[:, 2]
    res = tinycrnn.OCR(detector=BoxDetector(box.astype(np.float32)), case_model=None).read(page)
    assert [ln.text.upper() for ln in res.lines] == ["TOTAL 45.60"]
    assert np.allclose(res.lines[0].box, box, atol=0.01)
    assert {"detect", "classify", "recognise"} <= set(res.timings)


def _db_models():
    """Engine DB models when installed, else the onnxruntime stand-ins, else skip."""
    if db_installed():
        return {}
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
    try:
        import _ppocr_det_ort
    except ImportError:
        pytest.skip("DB models not installed and benchmarks/ not importable")
    if not _ppocr_det_ort.available():
        pytest.skip("DB models not installed (engine), and no onnxruntime + ../shared/models/ppocr-det-cls stand-in")
    return {"model": _ppocr_det_ort.OrtModel("ppocrv4_det"), "classifier": _ppocr_det_ort.OrtModel("ppocr_cls")}


def test_receipt_sample_reads_with_db_upright_and_upside_down():
    det = DBDetector(**_db_models())
    ocr = tinycrnn.OCR(detector=det, case_model=None)
    page = cv2.imread(os.path.join(SAMPLES, "receipt.png"))
    up = ocr.read(page)
    assert len(up.lines) >= 5
    assert all(np.asarray(ln.box).shape == (4, 2) for ln in up.lines)
    assert {"TOTAL", "12.40"} <= set(up.text.upper().split())
    down = ocr.read(cv2.rotate(page, cv2.ROTATE_180))

    def norm(page):  # word spaces and comma widths vary between readings of this small page
        return Counter(ln.text.upper().replace(" ", "").replace("\uff0c", ",") for ln in page.lines)

    assert sum((norm(up) & norm(down)).values()) >= 0.8 * len(up.lines)


def test_cli_detector_option(tmp_path):
    from conftest import run_tinycrnn

    p = run_tinycrnn("read", "--detector", "lines", "--json", os.path.join(SAMPLES, "receipt.png"))
    assert p.returncode == 0, p.stderr
    p = run_tinycrnn("read", "--detector", "sideways", os.path.join(SAMPLES, "receipt.png"))
    assert p.returncode != 0 and "--detector" in p.stderr


def test_orienter_page_vote_turns_every_line_of_an_upside_down_page():
    crops = [np.zeros((10, 40, 3), np.uint8), np.zeros((10, 20, 3), np.uint8)]
    _, flipped = Orienter(FakeCls(0.85))(crops)
    assert flipped == [True, True]
    _, flipped = Orienter(FakeCls(0.3))(crops)
    assert flipped == [False, False]


def test_auto_picks_lines_for_a_scan_and_db_for_a_photo_like_page():
    from tinycrnn.page.choose import AutoDetector, paper_border

    scan = np.full((200, 150, 3), 255, np.uint8)
    cv2.putText(scan, "TOTAL", (10, 100), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
    photo = np.full((200, 150, 3), (40, 90, 140), np.uint8)
    photo[30:170, 30:120] = 235
    assert paper_border(scan) == 1.0 and paper_border(photo) == 0.0
    auto = AutoDetector("db", "lines")
    assert auto.pick(scan) == "lines" and auto.pick(photo) == "db"


@settings(max_examples=60)
@given(st.integers(1, 80), st.integers(1, 80), st.booleans(), st.integers(0, 2**32 - 1))
def test_paper_border_on_the_strips_equals_the_whole_page_hsv(h, w, gray, seed):
    """paper_border converts only the border strips: the same share as the whole page's HSV mask, colour or gray."""
    from tinycrnn.page.choose import paper_border

    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w) if gray else (h, w, 3), dtype=np.uint8)
    img[rng.random((h, w)) < 0.5] = 200  # paper-like pixels, so that the share is not always ~0
    hsv = cv2.cvtColor(img if not gray else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), cv2.COLOR_BGR2HSV)
    m = (hsv[..., 2] > 170) & (hsv[..., 1] < 40)
    b = max(1, int(0.04 * min(h, w)))
    want = np.concatenate([m[:b].ravel(), m[-b:].ravel(), m[:, :b].ravel(), m[:, -b:].ravel()]).mean()
    assert paper_border(img) == float(want)


def test_auto_reads_line_crops_with_the_line_detector_whatever_their_background():
    """A dark or coloured line crop (samples/who_cook.png) is not a photographed page: DB would blow it up
    to a 736-pixel short side and cut it into words."""
    from tinycrnn.page.choose import MIN_DB_SIDE, AutoDetector

    crop = np.full((MIN_DB_SIDE - 1, 600, 3), (40, 90, 140), np.uint8)
    page = np.full((MIN_DB_SIDE, 600, 3), (40, 90, 140), np.uint8)
    auto = AutoDetector("db", "lines")
    assert auto.pick(crop) == "lines" and auto.pick(page) == "db"
