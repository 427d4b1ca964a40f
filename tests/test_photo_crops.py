"""Photo line crops (tinycrnn/page/photo.py): gray, sharpened, and applied on the DB page path only."""
import cv2
import numpy as np

import tinycrnn
from textimg import put_text
from tinycrnn.page.db import DBDetector
from tinycrnn.page.photo import gray_crop, photo_crop, sharpen


def _warm_line():
    """A level text line on warm paper (a colour cast, as in a phone photo)."""
    line = np.empty((60, 420, 3), np.uint8)
    line[:] = (150, 190, 225)  # BGR: yellowish paper
    put_text(line, "Total 45.60", (10, 42), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (40, 60, 90), 2, cv2.LINE_AA)
    return line


def test_gray_crop_is_luma_in_three_equal_channels():
    c = _warm_line()
    g = gray_crop(c)
    assert g.shape == c.shape and g.dtype == np.uint8
    assert np.array_equal(g[..., 0], g[..., 1]) and np.array_equal(g[..., 1], g[..., 2])
    assert np.array_equal(g[..., 0], cv2.cvtColor(c, cv2.COLOR_BGR2GRAY))
    flat = cv2.cvtColor(c, cv2.COLOR_BGR2GRAY)
    assert gray_crop(flat) is flat


def test_sharpen_keeps_flat_areas_and_steepens_a_blurred_edge():
    flat = np.full((20, 30), 137, np.uint8)
    assert np.array_equal(sharpen(flat), flat)
    c = _warm_line()
    assert sharpen(c, amount=0.0) is c
    step = np.zeros((16, 40), np.uint8)
    step[:, 20:] = 200
    soft = cv2.GaussianBlur(step, (0, 0), 1.2)
    out = sharpen(soft)
    assert out.dtype == np.uint8 and out.shape == soft.shape
    row_in, row_out = soft[8].astype(int), out[8].astype(int)
    assert np.abs(np.diff(row_out)).max() > np.abs(np.diff(row_in)).max()
    assert row_out[:12].tolist() == row_in[:12].tolist() and row_out[-12:].tolist() == row_in[-12:].tolist()


def test_photo_crop_is_gray_then_sharpened():
    c = _warm_line()
    assert np.array_equal(photo_crop(c), sharpen(gray_crop(c)))


class _Boxes:
    """A learned-path detector returning one given box; ``photo_crops`` as DBDetector's option."""

    learned = True
    orienter = None

    def __init__(self, box, photo_crops):
        self.box, self.photo_crops = box, photo_crops

    def detect(self, image):
        return [self.box]


def _crops_read(photo_crops, monkeypatch):
    page = np.empty((140, 520, 3), np.uint8)
    page[:] = (150, 190, 225)
    page[40:100, 50:470] = _warm_line()
    box = np.array([[50, 40], [470, 40], [470, 100], [50, 100]], np.float32)
    ocr = tinycrnn.OCR(detector=_Boxes(box, photo_crops), case_model=None)
    seen = []
    real = type(ocr).read_crops

    def spy(self, crops, trimmed, reader=None):
        seen.extend(crops)
        return real(self, crops, trimmed, reader)

    monkeypatch.setattr(type(ocr), "read_crops", spy)
    res = ocr.read(page)
    return seen, res


def test_db_path_reads_gray_sharpened_crops_and_can_be_switched_off(monkeypatch):
    seen, res = _crops_read(True, monkeypatch)
    assert len(seen) == 1
    assert np.array_equal(seen[0][..., 0], seen[0][..., 2])
    assert [ln.text.upper() for ln in res.lines] == ["TOTAL 45.60"]
    seen, _ = _crops_read(False, monkeypatch)
    assert not np.array_equal(seen[0][..., 0], seen[0][..., 2])  # read as cut: colour kept


def test_db_detector_reads_photo_crops_by_default():
    assert DBDetector().photo_crops is True
    assert DBDetector(photo_crops=False).photo_crops is False


class _ValueCls:
    """A fake 0/180 classifier: P(180) is read back from the crop's gray level (see :func:`_lines`); counts crops."""

    def __init__(self):
        self.seen = 0

    def forward(self, x):
        self.seen += len(x)
        p = ((x[:, 0, 0, 0] + 1.0) * 127.5 - 20.0) / 200.0
        return np.stack([1 - p, p], axis=1).astype(np.float32)


def _lines(p_of_length, n=20):
    """n crops, the i-th 40 + 8 i wide, each filled with a gray level that encodes the P(180) it should get."""
    return [np.full((16, 40 + 8 * i, 3), int(round(20 + 200 * p_of_length(i))), np.uint8) for i in range(n)]


def test_orienter_stops_early_on_a_clear_page_and_keeps_the_short_lines():
    from tinycrnn.page.orient import Orienter

    # upright page, but the classifier calls the shortest lines upside down (as it does some prices)
    crops = _lines(lambda i: 0.95 if i < 3 else 0.02)
    cls = _ValueCls()
    out, flipped = Orienter(cls)(crops)
    assert cls.seen == 12 and not any(flipped) and all(o is c for o, c in zip(out, crops))
    cls = _ValueCls()
    _, flipped = Orienter(cls)(_lines(lambda i: 0.99))
    assert cls.seen == 12 and all(flipped)
    # early=0: every line is classified and the per-line rule turns the confident short ones
    cls = _ValueCls()
    _, flipped = Orienter(cls, early=0)(crops)
    assert cls.seen == 20 and flipped == [i < 3 for i in range(20)]


def test_orienter_classifies_every_line_when_the_long_lines_disagree():
    from tinycrnn.page.orient import Orienter

    cls = _ValueCls()
    _, flipped = Orienter(cls)(_lines(lambda i: 0.95 if i % 3 == 0 else 0.05))  # page mean under the vote
    assert cls.seen == 20 and flipped == [i % 3 == 0 for i in range(20)]
