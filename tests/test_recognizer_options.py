"""Decoder options through the public Recognizer and the CLI, on real sample images."""
import os

import pytest

import tinycrnn
from conftest import SAMPLES, run_tinycrnn
from tinycrnn.errors import DecodeOptionError

INVOICE = os.path.join(SAMPLES, "invoice_line.png")


@pytest.fixture(scope="module")
def rec():
    return tinycrnn.Recognizer()


def test_options_beam_agrees_with_greedy_on_clean_line_and_lists_alternatives(rec):
    greedy = rec.recognize(INVOICE)
    beam = rec.recognize(INVOICE, decoder="beam", beam_width=8, topk=3)
    assert beam.text == greedy.text == "Invoice #2024-0117"
    assert len(beam.alternatives) == 3 and beam.alternatives[0][0] == beam.text
    assert abs(beam.confidence - greedy.confidence) < 1e-9


def test_options_allowlist_only_emits_allowed(rec):
    res = rec.recognize(INVOICE, allowlist="0123456789-")
    assert res.text and set(res.text) <= set("0123456789-")


def test_options_lexicon_list_is_compiled_once_and_snaps(tmp_path):
    r = tinycrnn.Recognizer(lexicon=["Invoice", "Receipt", "Total"])
    assert r.recognize(INVOICE).text == "Invoice"
    assert type(r.decode_options["lexicon"]).__name__ == "Lexicon"


def test_options_bad_values_are_typed_errors(rec):
    with pytest.raises(DecodeOptionError):
        rec.recognize(INVOICE, decoder="beam", beam_width=0)
    with pytest.raises(DecodeOptionError):
        tinycrnn.Recognizer(decoder="viterbi")
    with pytest.raises(DecodeOptionError):
        rec.recognize(INVOICE, allowlist="\u4e2d")


def test_options_cli_flags(tmp_path):
    lex = tmp_path / "words.txt"
    lex.write_text("Invoice\nTotal\n", encoding="utf-8")
    run = lambda *a: run_tinycrnn("read", "--line", *a, INVOICE)  # noqa: E731
    p = run("--beam", "5")
    assert p.returncode == 0 and p.stdout.strip() == "Invoice #2024-0117", p.stderr
    assert run("--lexicon", str(lex)).stdout.strip() == "Invoice"
    assert set(run("--allowlist", "0123456789").stdout.strip()) <= set("0123456789")
