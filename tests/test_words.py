"""Word boxes: IoU with the true word positions on pages drawn from the committed glyph masks, the
polygon mapping for rotated lines, token bookkeeping, and the JSON shape of words."""
import cv2
import numpy as np
import pytest

import tinycrnn
from textimg import _mask, put_text, text_size
from tinycrnn.page.words import Token, crop_rect_to_page, crop_words, line_words, tokens_of

FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Rows of words drawn one by one (each word its own fixture mask, so its true box is known).
ROWS = [["The", "quick", "brown", "fox", "jumps"], ["SUBTOTAL", "12.50", "Discount", "0.00"],
        ["Payment", "7.00", "ROUNDING", "2"], ["brown", "fox", "The", "12.50"]]


def word_page(rows=ROWS, gap=20, size=(760, 330)):
    """A white page with ``rows`` of words; returns the page and [(word, (x0, y0, x1, y1))] ink boxes."""
    img = np.full((size[1], size[0], 3), 255, np.uint8)
    truth = []
    for r, words in enumerate(rows):
        x, y = 40, 70 + 70 * r
        for w in words:
            put_text(img, w, (x, y), FONT, 1.0, (0, 0, 0), 2, cv2.LINE_AA)
            cover, (dx, dy) = _mask(w, FONT, 1.0, 2, cv2.LINE_AA)
            truth.append((w, (x + dx, y + dy, x + dx + cover.shape[1], y + dy + cover.shape[0])))
            x += text_size(w, FONT, 1.0, 2)[0][0] + gap
    return img, truth


def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / u if u > 0 else 0.0


def word_ious(page, truth):
    """Per true word, the best IoU of a read word's box (0 when no box overlaps it)."""
    boxes = [w.bbox for line in page.lines for w in line.words]
    return [max((iou(b, t) for b in boxes), default=0.0) for _, t in truth]


@pytest.fixture(scope="module")
def ocr():
    return tinycrnn.OCR()


def test_word_boxes_overlap_the_drawn_words(ocr):
    img, truth = word_page()
    page = ocr.read(img)
    ious = word_ious(page, truth)
    # the bar: IoU >= 0.5 on at least 90% of words (measured here: every word, median about 0.95)
    assert np.mean([v >= 0.5 for v in ious]) >= 0.9, list(zip([w for w, _ in truth], ious))
    assert np.median(ious) >= 0.8
    for line in page.lines:
        assert " ".join(w.text for w in line.words) == " ".join(line.text.split())
        for w in line.words:
            assert len(w.char_confidences) == len(w.text) and 0.0 <= w.confidence <= 1.0
            assert len(w.box) == 4


def test_word_boxes_follow_a_skewed_page(ocr):
    img, truth = word_page(ROWS[:2], size=(760, 200))
    M = cv2.getRotationMatrix2D((380, 100), 4.0, 1.0)
    rot = cv2.warpAffine(img, M, (760, 200), borderValue=(255, 255, 255))
    page = ocr.read(rot)
    centres = [np.mean(np.asarray(w.box), axis=0) for line in page.lines for w in line.words]
    hits = 0
    for _, (x0, y0, x1, y1) in truth:
        c = M @ np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0, 1.0])
        hits += any(np.hypot(*(c - p)) < 0.25 * (x1 - x0) + 4 for p in centres)
    assert hits >= 0.8 * len(truth)


def test_crop_rect_maps_through_a_rotated_line_polygon():
    a = np.deg2rad(30)
    u, v = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
    o = np.array([100.0, 50.0])
    quad = [o, o + 200 * u, o + 200 * u + 40 * v, o + 40 * v]
    box = crop_rect_to_page(quad, 100, 20, (10, 5, 30, 15))  # crop is half scale in both directions
    want = [o + 20 * u + 10 * v, o + 60 * u + 10 * v, o + 60 * u + 30 * v, o + 20 * u + 30 * v]
    np.testing.assert_allclose(box, want, atol=1e-9)


def test_tokens_keep_columns_and_drop_nothing():
    toks = tokens_of("AB  CD", [0.9, 0.8, 1.0, 1.0, 0.5, 0.7], [1, 2, 3, 4, 5, 6])
    assert [(t.text, t.xs) for t in toks] == [("AB", [1.0, 2.0]), ("CD", [5.0, 6.0])]
    assert toks[1].score == pytest.approx(0.6)


def test_words_of_a_case_restored_line_split_where_spaces_were_added():
    ink = np.zeros((20, 100), bool)
    ink[4:16, 10:30] = ink[4:16, 40:60] = True
    toks = [Token("Thankyou", 0.9, [0.9] * 8, [12, 16, 20, 24, 28, 44, 50, 56])]
    words = crop_words("Thank you", toks, ink)
    assert [w for w, _, _ in words] == ["Thank", "you"]
    (_, _, a), (_, _, b) = words
    assert a[0] == 10 and a[2] <= 40 and b[0] >= 30 and b[2] == 60


def test_line_without_spans_splits_its_ink_evenly():
    crop = np.full((20, 100), 255, np.uint8)
    crop[5:15, 10:90] = 0
    quad = [[0, 0], [100, 0], [100, 20], [0, 20]]
    words = line_words("ab cd", tokens_of("ab cd", [1.0] * 5, None), crop, quad)
    assert [w.text for w in words] == ["ab", "cd"] and words[0].bbox[0] == 10 and words[1].bbox[2] == 90


def test_line_mode_words_cover_the_line(tmp_path):
    from conftest import SAMPLES
    from tinycrnn.page.words import line_page

    rec = tinycrnn.Recognizer("english_g2")
    img = rec.load(f"{SAMPLES}/who_cook.png")
    probs = rec.probabilities([img])[0]
    page = line_page(rec, img, rec.decode(probs), probs.shape[0])
    words = page.lines[0].words
    assert [w.text for w in words] == page.lines[0].text.split()
    xs = [w.bbox for w in words]
    assert all(a[2] <= b[0] + 1 for a, b in zip(xs, xs[1:]))  # left to right, no overlap
    assert xs[0][0] < 20 and xs[-1][2] > img.shape[1] - 20
