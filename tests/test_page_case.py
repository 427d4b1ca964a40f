"""Letter case and word spaces from the case model (``tinycrnn/page/case.py``): the merge rules, the
lower-case detector on rendered lines, and a real 1-bit prose scan (``samples/phototest.png``) read
end to end by both shipped models."""
import os

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinycrnn
from conftest import ROOT
from textimg import put_text, text_size
from tinycrnn.errors import InputTypeError, ModelNotFoundError
from tinycrnn.evaluate.metrics import cer
from tinycrnn.page.case import has_lowercase, merge_case

PHOTOTEST = os.path.join(ROOT, "samples", "phototest.png")
PHOTOTEST_TEXT = ("This is a lot of 12 point text to test the ocr code and see if it works on all types of file "
                  "format. The quick brown dog jumped over the lazy fox. The quick brown dog jumped over the lazy "
                  "fox. The quick brown dog jumped over the lazy fox. The quick brown dog jumped over the lazy fox.")


def squeeze(text: str) -> str:
    return "".join(text.split()).lower()


@settings(max_examples=300, deadline=None)
@given(st.text("aAbBcC1.,: ", max_size=30), st.text("aAbBcCxX1;: ", max_size=30))
def test_merge_case_keeps_the_page_models_characters(text, cased):
    """Whatever the second reading says, only letter case and word spaces of ``text`` can change."""
    out = merge_case(text, cased)
    assert squeeze(out) == squeeze(text)
    assert out == " ".join(out.split())


@pytest.mark.parametrize("text, cased, want", [
    ("THE qUICK BROWN DOG", "The quick brown dog", "The quick brown dog"),  # case from the case model
    ("NasiLemak", "Nasi Lemak", "Nasi Lemak"),  # a word space the page model ran together
    ("Thankyou,comeagain", "Thank you; come again", "Thank you, come again"),  # ',' misread as ';' still aligns
    ("SALSPORSON:", "SaLspORsOn:", "Salsporson:"),  # one shape per word
    ("TOTAL 12.40 GST", "ToTal I2.4O GST", "Total 12.40 GST"),  # digits stay the page model's
    ("TAX(RM)", "Tax (RM)", "Tax(RM)"),  # no space is added before punctuation
    ("A1B2", "a1 b2", "a1b2"),  # nor between a digit and a letter
    ("DOG", "", "DOG"),
])
def test_merge_case_examples(text, cased, want):
    assert merge_case(text, cased) == want


def rendered_line(text: str) -> np.ndarray:
    """The line cut as the detector cuts it: 12% of the ink height above the ink, 3% below."""
    (w, h), base = text_size(text, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)
    img = np.full((h + base + 40, w + 40, 3), 255, np.uint8)
    put_text(img, text, (20, h + 20), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2, cv2.LINE_AA)
    ys, xs = np.nonzero(img.min(axis=2) < 128)
    pad_top, pad_bottom = round(0.12 * (ys.max() - ys.min())), round(0.03 * (ys.max() - ys.min()))
    return img[ys.min() - pad_top : ys.max() + 1 + pad_bottom, xs.min() - 2 : xs.max() + 3]


def test_has_lowercase_on_rendered_lines():
    assert has_lowercase(rendered_line("The quick brown fox"))
    assert has_lowercase(rendered_line("see if it works on all types"))
    assert not has_lowercase(rendered_line("TOTAL SALES 12.40"))
    assert not has_lowercase(rendered_line("RM 45.60"))
    assert not has_lowercase(np.full((5, 40), 255, np.uint8))  # too small to tell: no second reading


def test_prose_scan_gets_its_case_back():
    """PP-OCRv2 reads the letters of this scan right but prints them in capitals; the case model fixes that."""
    plain = " ".join(line.text for line in tinycrnn.OCR(case_model=None).read(PHOTOTEST).lines)
    cased = " ".join(line.text for line in tinycrnn.OCR().read(PHOTOTEST).lines)
    assert cer([(PHOTOTEST_TEXT.lower(), plain.lower())]) < 0.02  # the letters are right either way
    assert cer([(PHOTOTEST_TEXT, plain)]) > 0.3  # measured 0.74: capitals
    assert cer([(PHOTOTEST_TEXT, cased)]) < 0.03  # measured 0.007
    assert squeeze(cased) == squeeze(plain)  # only case and spaces changed


def test_receipts_are_not_read_twice():
    """A page whose lines are mostly capitals (samples/receipt.png: 4 of 6 lines with letters are not)
    never reaches the case model."""
    calls = []

    class Counting(tinycrnn.Recognizer):
        def recognize_batch(self, images, **kw):
            calls.append(len(images))
            return super().recognize_batch(images, **kw)

    ocr = tinycrnn.OCR(case_model=Counting("english_g2-int8"))
    ocr.read(os.path.join(ROOT, "samples", "receipt.png"))
    assert calls == []
    ocr.read(PHOTOTEST)
    assert calls and sum(calls) >= 6


def test_case_model_options():
    assert tinycrnn.OCR(model="english_g2").case_model is None  # already case-aware
    assert tinycrnn.OCR(case_model=None).case_model is None
    with pytest.raises(ModelNotFoundError):
        tinycrnn.OCR(case_model="no_such_model")
    with pytest.raises(InputTypeError):
        tinycrnn.OCR(case_model=5)


def test_cli_case_switch(capsys):
    from tinycrnn.cli import main

    assert main(["read", PHOTOTEST]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "This is a lot of 12 point text to test the"
    assert main(["read", "--no-case", PHOTOTEST]) == 0
    assert capsys.readouterr().out.splitlines()[0].isupper()
