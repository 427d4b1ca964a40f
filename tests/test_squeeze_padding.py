"""Squeeze-and-excitation means taken as if a line were blank-padded (kernels/se.py ``pad_sum``, ops/se.py
``padded``, ``Model.forward(squeeze_width=...)``), and the page reader that uses them for scan crops.

PaddleOCR pads every line to 320 px and PP-OCRv2's SE layers average over that padding; the page reader pads
pieces by only 24 columns and counts the rest of the blank in those means without computing it."""
import glob
import os

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinycrnn
from tinycrnn.kernels import get_kernels
from tinycrnn.page.reader import SQUEEZED_MARGIN, LineReader
from tinycrnn.preprocess import pad_lines, resize_line
from tolerances import KERNEL_RTOL

NB = get_kernels("numba")
REF = get_kernels("numpy")
TEXT = os.path.join(os.path.dirname(__file__), "data", "text")


def _se_case(rng, n, c, r, h, w):
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    w1, b1 = rng.standard_normal((r, c)).astype(np.float32), rng.standard_normal(r).astype(np.float32)
    w2, b2 = rng.standard_normal((c, r)).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    return x, (w1, b1, w2, b2, 0.2, 0.5)


@given(st.integers(1, 2), st.integers(1, 6), st.integers(1, 4), st.integers(1, 4), st.integers(1, 9),
       st.integers(1, 12), st.booleans(), st.integers(0, 2**31 - 1))
def test_padded_mean_equals_the_se_of_the_explicitly_padded_map_on_its_own_columns(n, c, r, h, w, k, nhwc, seed):
    rng = np.random.default_rng(seed)
    x, args = _se_case(rng, n, c, r, h, w)
    blank = rng.standard_normal((c, h)).astype(np.float32)  # one blank column of this map
    padded = np.concatenate([x, np.broadcast_to(blank[None, :, :, None], (n, c, h, k))], axis=3)
    want = REF.se(padded, *args)[..., :w]
    pad_sum, pad_n = k * blank.sum(axis=1), k * h
    np.testing.assert_allclose(REF.se(x, *args, pad_sum=pad_sum, pad_n=pad_n), want, rtol=1e-5, atol=1e-5)
    xin = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) if nhwc else x
    got = NB.se(xin, *args, pad_sum=pad_sum, pad_n=pad_n)
    np.testing.assert_allclose(got, want, rtol=KERNEL_RTOL, atol=1e-5)


def test_no_padding_is_the_plain_se_bit_for_bit():
    x, args = _se_case(np.random.default_rng(0), 2, 5, 3, 2, 11)
    for k in (NB, REF):
        np.testing.assert_array_equal(k.se(x, *args, pad_sum=np.zeros(5, np.float32), pad_n=0), k.se(x, *args))


@pytest.fixture(scope="module")
def ppocrv2():
    return tinycrnn.Recognizer("ppocrv2_zh_int8")


def _lines(spec):
    for path in sorted(glob.glob(os.path.join(TEXT, "*.png"))):
        x = resize_line(cv2.imread(path), spec)
        if x.shape[2] + SQUEEZED_MARGIN < spec.min_width:
            yield os.path.basename(path), x


def test_a_line_as_wide_as_the_squeeze_width_reads_unchanged(ppocrv2):
    m, spec = ppocrv2.model, ppocrv2.spec
    _, x = next(_lines(spec))
    batch = pad_lines([x], spec.min_width, spec)
    np.testing.assert_array_equal(m.forward(batch, squeeze_width=spec.min_width), m.forward(batch))
    np.testing.assert_array_equal(m.forward(batch, squeeze_width=100), m.forward(batch))


def test_squeezed_short_margin_reads_are_closer_to_the_320_padded_reads(ppocrv2):
    """On real receipt crops: the probabilities of a line padded by 24 columns, against the same line padded to
    320 as PaddleOCR does, move less far when the SE means count the missing blank (measured: mean max |dp|
    0.122 -> 0.074 over these 22 crops, 0.61x; 7 of them move further)."""
    m, spec = ppocrv2.model, ppocrv2.spec
    plain, squeezed = [], []
    for _, x in _lines(spec):
        w = x.shape[2] + SQUEEZED_MARGIN
        ref = m.forward(pad_lines([x], spec.min_width, spec))[0]
        short = pad_lines([x], w, spec)
        t = int(np.ceil(m.forward(short).shape[1] * x.shape[2] / w))  # the steps that saw the line itself
        plain.append(np.abs(m.forward(short)[0, :t] - ref[:t]).max())
        squeezed.append(np.abs(m.forward(short, squeeze_width=spec.min_width)[0, :t] - ref[:t]).max())
    assert len(plain) >= 6
    assert np.mean(squeezed) < 0.7 * np.mean(plain), (plain, squeezed)


def test_page_readers_squeeze_scan_crops_only(ppocrv2):
    reader = LineReader(ppocrv2)
    assert (reader.squeeze_width, reader.right_margin) == (320, SQUEEZED_MARGIN)
    assert (LineReader(ppocrv2, squeeze_width=0).right_margin, LineReader(ppocrv2, squeeze_width=0).squeeze_width) == (64, 0)
    g2 = LineReader(tinycrnn.Recognizer("english_g2"))  # no SE layers: nothing to squeeze
    assert g2.squeeze_width == 0 and g2.right_margin != SQUEEZED_MARGIN
    ocr = tinycrnn.OCR(model=ppocrv2, case_model=None)
    assert (ocr.reader.squeeze_width, ocr.reader.right_margin) == (320, SQUEEZED_MARGIN)
    assert (ocr.learned_reader.squeeze_width, ocr.learned_reader.right_margin) == (0, 64)


def test_the_servers_micro_batcher_passes_squeeze_width_and_never_merges_two_widths(ppocrv2):
    import threading

    from tinycrnn.server.batcher import BatchedModel, MicroBatcher

    m, spec = ppocrv2.model, ppocrv2.spec
    _, x = next(_lines(spec))
    batch = pad_lines([x], x.shape[2] + SQUEEZED_MARGIN, spec)
    batcher = MicroBatcher(m, max_wait_ms=50)
    try:
        served = BatchedModel(m, batcher)
        got = {}
        threads = [threading.Thread(target=lambda sw=sw: got.__setitem__(sw, served.forward(batch, sw))) for sw in (0, 320)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        np.testing.assert_array_equal(got[320], m.forward(batch, squeeze_width=320))
        np.testing.assert_array_equal(got[0], m.forward(batch))
        assert batcher.stats["forward_passes"] == 2
    finally:
        batcher.close()
