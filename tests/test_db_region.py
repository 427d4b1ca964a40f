"""DBDetector's first look (page/db.py ``text_region``): a large photo is read at full resolution only
where a shrunk look found text, with the same boxes as reading the whole frame."""
import os

import cv2
import numpy as np
import pytest

from tinycrnn.page.db import DBDetector, det_input
from tinycrnn.page.choose import db_installed

pytestmark = pytest.mark.skipif(not db_installed(), reason="the DB models are not installed")
SAMPLES = os.path.join(os.path.dirname(__file__), "..", "samples")


def _photo():
    """samples/receipt.png, enlarged 2x, on a 2000 x 1500 brown, noisy table (a receipt photographed from afar)."""
    rng = np.random.default_rng(0)
    table = np.clip(rng.normal((60, 90, 130), 12, (2000, 1500, 3)), 0, 255).astype(np.uint8)
    receipt = cv2.resize(cv2.imread(os.path.join(SAMPLES, "receipt.png")), None, fx=2, fy=2)
    table[700 : 700 + receipt.shape[0], 400 : 400 + receipt.shape[1]] = receipt
    return table


@pytest.fixture(scope="module")
def detectors():
    whole = DBDetector(coarse_side=0, orient=False)
    return whole, DBDetector(model=whole.model, orient=False)


def test_the_region_holds_the_text_and_is_a_fraction_of_the_frame(detectors):
    whole, first_look = detectors
    img = _photo()
    x0, y0, x1, y1 = first_look.text_region(img)
    assert (x1 - x0) * (y1 - y0) < 0.5 * img.shape[0] * img.shape[1]
    boxes = whole.detect(img)
    assert boxes
    pts = np.concatenate(boxes)
    assert pts[:, 0].min() >= x0 and pts[:, 0].max() <= x1 and pts[:, 1].min() >= y0 and pts[:, 1].max() <= y1


def test_boxes_from_the_region_equal_the_whole_frame_boxes(detectors):
    whole, first_look = detectors
    img = _photo()
    a, b = whole.detect(img), first_look.detect(img)
    assert len(a) == len(b)
    for p, q in zip(sorted(a, key=lambda x: tuple(x.mean(0))), sorted(b, key=lambda x: tuple(x.mean(0)))):
        assert np.abs(p - q).max() <= 4


def test_small_pages_and_blank_frames_are_read_whole(detectors):
    _, first_look = detectors
    small = cv2.imread(os.path.join(SAMPLES, "receipt.png"))
    assert first_look.text_region(small) == (0, 0, small.shape[1], small.shape[0])
    blank = np.full((2000, 1500, 3), 200, np.uint8)
    assert first_look.text_region(blank) == (0, 0, 1500, 2000)


def test_a_region_is_scaled_as_the_whole_page_would_be():
    page = np.zeros((2400, 1800, 3), np.uint8)
    x, rh, rw = det_input(page)
    xr, rrh, rrw = det_input(page[600:1800, 300:1500], page_shape=page.shape[:2])
    assert abs(rh - rrh) < 0.02 and abs(rw - rrw) < 0.02
    assert xr.shape[2] < x.shape[2] and xr.shape[3] < x.shape[3]


def test_the_model_can_be_named_or_given_as_a_path():
    """``DBDetector(model=...)`` takes a model name or a .tcrnn path as well as a loaded model."""
    from tinycrnn.engine import resolve_model_path

    path = resolve_model_path("ppocrv4_det")
    for spec in ("ppocrv4_det", path):
        model = DBDetector(model=spec, orient=False).model
        assert model.path == path and hasattr(model, "forward")
