"""CTC decoders: greedy, prefix beam, lexicon, character filters and the ``decode`` entry point.

Naive helpers first (brute force over all K**T paths), then properties driven by Hypothesis.
"""
import itertools
import math
import os
import warnings
from collections import defaultdict
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_python
from tinycrnn.decode import (Lexicon, apply_char_filter, ctc_beam, ctc_beam_ref, ctc_best_path_ref, ctc_greedy,
                             ctc_lexicon, ctc_log_likelihood_ref, decode, softmax)
from tinycrnn.decode import beam as beam_mod
from tinycrnn.decode import ctc as ctc_mod
from tinycrnn.decode import lexicon as lexicon_mod
from tinycrnn.errors import DecodeOptionError, InputTypeError

#: Log-probabilities from different summation orders (kernel vs twin, beam vs brute force).
LOG_ATOL = 1e-9
#: Confidences of results decoded from shifted logits (softmax rounding only).
CONF_ATOL = 1e-9

SETTINGS = settings(max_examples=int(os.environ.get("TINYCRNN_MAX_EXAMPLES", 50)), deadline=None)
LETTERS = "abcdefghijk"


# ---- naive helpers -------------------------------------------------------------------------

def naive_collapse(path, blank):
    out, prev = [], None
    for k in path:
        if k != prev and k != blank:
            out.append(k)
        prev = k
    return tuple(out)


def brute_force_labellings(p, blank):
    """P(labelling) for every labelling, by summing over all K**T paths."""
    T, K = p.shape
    totals = defaultdict(float)
    for path in itertools.product(range(K), repeat=T):
        totals[naive_collapse(path, blank)] += math.prod(p[t, k] for t, k in enumerate(path))
    return totals


def random_probs(seed, T, K, scale=None):
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.2, 6.0) if scale is None else scale
    return softmax(rng.normal(size=(T, K)) * scale)


def charset_of(K, blank=0):
    cs = list(LETTERS[:K - 1])
    cs.insert(blank, "")
    return cs


def log_or_inf(x):
    return math.log(x) if x > 0 else -math.inf


tiny = st.tuples(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(2, 4), st.integers(0, 3))


# ---- beam search ---------------------------------------------------------------------------

@SETTINGS
@given(tiny)
def test_ctc_beam_exhaustive_equals_brute_force(case):
    seed, T, K, blank = case
    blank %= K
    p, cs = random_probs(seed, T, K), charset_of(K, blank)
    truth = brute_force_labellings(p, blank)
    best = max(truth.values())
    for fn in (lambda: ctc_beam(p, cs, blank, beam_width=10**6, topk=len(truth), prune=0.0, max_candidates=None),
               lambda: ctc_beam_ref(p, cs, blank, beam_width=10**6, topk=len(truth))):
        d = fn()
        assert truth[d.labels] == pytest.approx(best, rel=1e-9)
        assert len(d.alternatives) == sum(v > 0 for v in truth.values())
        for text, score in d.alternatives:
            labels = tuple(cs.index(c) for c in text)
            assert score == pytest.approx(math.log(truth[labels]), abs=LOG_ATOL)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(2, 12), st.integers(1, 8),
       st.sampled_from([0.0, 0.02, 0.1]), st.integers(1, 12))
def test_prefix_beam_kernel_matches_twin(seed, T, K, width, prune, max_cand):
    p = random_probs(seed, T, K)
    max_cand = min(max_cand, K - 1)
    got = beam_mod._prefix_beam_numba(p, 0, width, prune, max_cand)
    want = beam_mod.prefix_beam_ref(p, 0, beam_mod.select_candidates_ref(p, 0, prune, max_cand), width)
    assert [g[0] for g in got] == [w[0] for w in want]
    np.testing.assert_allclose([g[1] for g in got], [w[1] for w in want], rtol=0, atol=LOG_ATOL)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 20), st.integers(2, 40), st.integers(1, 8))
def test_select_candidates_kernel_matches_twin(seed, T, K, max_cand):
    from tinycrnn.decode import _beam_kernel

    rng = np.random.default_rng(seed)
    p = softmax(np.round(rng.normal(size=(T, K)), 1))  # rounding makes equal probabilities (ties) common
    cand, ncand = np.empty((T, max_cand), np.int32), np.empty(T, np.int32)
    _beam_kernel.select_candidates(p, 1, 0.01, cand, ncand)
    assert [cand[t, :ncand[t]].tolist() for t in range(T)] == beam_mod.select_candidates_ref(p, 1, 0.01, max_cand)


def test_ctc_beam_prefers_summed_probability_over_best_path():
    p = np.array([[.5, .3, .2], [.5, .3, .2]])
    assert ctc_greedy(p, ["", "a", "b"]).text == ""
    d = ctc_beam(p, ["", "a", "b"], topk=3)
    assert d.text == "a" and d.alternatives[0] == ("a", pytest.approx(math.log(.39)))


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(2, 30))
def test_ctc_beam_equal_text_gives_greedy_confidence(seed, T, K):
    rng = np.random.default_rng(seed)
    p = softmax(rng.normal(size=(T, K)) + 8.0 * np.eye(K)[rng.integers(0, K, size=T)])
    cs = [""] + [chr(0x4E00 + i) for i in range(K - 1)]
    g, b = ctc_greedy(p, cs), ctc_beam(p, cs)
    if b.text == g.text:
        assert b.confidence == pytest.approx(g.confidence, abs=CONF_ATOL)
        assert b.spans == g.spans and b.labels == g.labels
        np.testing.assert_allclose(b.char_confidences, g.char_confidences, atol=CONF_ATOL)


# ---- scoring one labelling -----------------------------------------------------------------

@SETTINGS
@given(tiny, st.lists(st.integers(1, 3), max_size=7))
def test_ctc_log_likelihood_ref_equals_path_enumeration(case, labels):
    seed, T, K, _ = case
    labels = tuple(min(k, K - 1) for k in labels)
    p = random_probs(seed, T, K)
    want = log_or_inf(brute_force_labellings(p, 0).get(labels, 0.0))
    got = ctc_log_likelihood_ref(np.log(p), labels, 0)
    assert got == pytest.approx(want, abs=LOG_ATOL) if want > -math.inf else got == -math.inf
    score, path = ctc_best_path_ref(np.log(p), labels, 0)
    if want > -math.inf:
        assert naive_collapse(path.tolist(), 0) == labels
        assert score == pytest.approx(math.log(np.prod(p[np.arange(T), path])), abs=LOG_ATOL)
    else:
        assert score == -math.inf


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(2, 8),
       st.lists(st.lists(st.integers(1, 7), max_size=12), min_size=1, max_size=6))
def test_ctc_kernels_match_twins(seed, T, K, words):
    kern = ctc_mod._kernels()
    words = [[min(k, K - 1) for k in w] for w in words]
    lp = np.log(random_probs(seed, T, K))
    flat = np.array([k for w in words for k in w], dtype=np.int32)
    offsets = np.concatenate(([0], np.cumsum([len(w) for w in words]))).astype(np.int64)
    out = np.empty(len(words))
    kern.forward_batch(lp, flat, offsets, np.arange(len(words)), 0, np.empty((2, 2 * max(map(len, words)) + 1)), out)
    want = [ctc_log_likelihood_ref(lp, w, 0) for w in words]
    np.testing.assert_allclose(out, want, rtol=0, atol=LOG_ATOL)
    for w in words:
        path = np.zeros(T, dtype=np.int64)
        score = kern.best_path(lp, np.array(w, np.int64), 0, np.empty((2, 2 * len(w) + 1)),
                               np.empty((T, 2 * len(w) + 1), np.int8), path)
        ref_score, ref_path = ctc_best_path_ref(lp, w, 0)
        assert score == pytest.approx(ref_score, abs=LOG_ATOL) if ref_score > -math.inf else score == -math.inf
        if ref_score > -math.inf:
            assert path.tolist() == ref_path.tolist()


# ---- greedy and invariances ----------------------------------------------------------------

@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(0, 50), st.integers(2, 12), st.integers(0, 11))
def test_ctc_greedy_drops_blank_and_is_not_longer_than_T(seed, T, K, blank):
    blank %= K
    d = ctc_greedy(random_probs(seed, T, K), charset_of(K, blank), blank)
    assert blank not in d.labels and len(d.labels) <= T and len(d.text) == len(d.labels)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 25), st.integers(2, 8))
def test_decode_invariant_to_per_step_logit_shift(seed, T, K):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(T, K)) * 3
    shifted = logits + rng.uniform(-50, 50, size=(T, 1))
    cs = charset_of(K)
    lexicon = ["".join(rng.choice(list(LETTERS[:K - 1]), size=rng.integers(1, 5))) for _ in range(20)]
    for kwargs in ({}, {"decoder": "beam", "topk": 3}, {"lexicon": lexicon, "topk": 3}):
        a, b = decode(softmax(logits), cs, **kwargs), decode(softmax(shifted), cs, **kwargs)
        assert a.text == b.text and a.labels == b.labels and a.spans == b.spans
        assert a.confidence == pytest.approx(b.confidence, abs=CONF_ATOL)
        assert [t for t, _ in a.alternatives] == [t for t, _ in b.alternatives]
        np.testing.assert_allclose([s for _, s in a.alternatives], [s for _, s in b.alternatives], atol=LOG_ATOL)


# ---- lexicon -------------------------------------------------------------------------------

@SETTINGS
@given(tiny, st.lists(st.text(alphabet="abc", min_size=1, max_size=7), min_size=1, max_size=90, unique=True))
def test_ctc_lexicon_equals_brute_force(case, words):
    seed, T, K, _ = case
    cs = charset_of(4)
    p = random_probs(seed, T, 4)
    truth = brute_force_labellings(p, 0)
    scores = [truth.get(tuple(cs.index(c) for c in w), 0.0) for w in words]
    best = max(scores)
    lex = Lexicon(words, cs)
    for exhaustive in (True, False):
        d = ctc_lexicon(p, cs, lex, topk=3, exhaustive=exhaustive)
        if best == 0.0:
            assert d.text == "" and d.alternatives == ()
            continue
        assert d.text == words[scores.index(best)]  # ties go to the earlier entry
        want = sorted(((s, -i) for i, s in enumerate(scores) if s > 0), reverse=True)[:3]
        assert [t for t, _ in d.alternatives] == [words[-i] for _, i in want]
        np.testing.assert_allclose([s for _, s in d.alternatives], [math.log(s) for s, _ in want], atol=LOG_ATOL)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.floats(0.0, 12.0), st.integers(1, 4), st.integers(1, 40),
       st.integers(1, 64), st.sampled_from([1.0, -100.0]))
def test_lexicon_pruned_equals_exhaustive(seed, T, peak, topk, first_batch, chunk, length_weight):
    # Words mostly spelt from a few letters (anagrams, sub- and superstrings of the truth) keep
    # bounds close to the scores; a negative length weight makes the first batch a poor guess,
    # so the chunked search has to raise the threshold itself.
    rng = np.random.default_rng(seed)
    cs = [""] + list("abcdefghijABCDEFGHIJ")
    few = list(rng.choice(list("abcdefghij"), size=rng.integers(2, 6), replace=False))
    words = list(dict.fromkeys("".join(rng.choice(few if i % 4 else list("abcdefghij"), size=rng.integers(1, 9)))
                               for i in range(300)))
    truth = [cs.index(c) for c in words[0]]
    logits = rng.normal(size=(T, len(cs)))
    logits[:, 0] += peak / 2
    steps = np.sort(rng.choice(T, size=min(len(truth), T), replace=False))
    logits[steps, truth[:len(steps)]] += peak
    p = softmax(logits)
    lex = Lexicon(words, cs, case_insensitive=True)
    assert len(lex) > lexicon_mod.EXHAUSTIVE_BELOW
    with mock.patch.multiple(lexicon_mod, FIRST_BATCH=first_batch, CHUNK=chunk, LENGTH_WEIGHT=length_weight):
        assert lexicon_mod.rank_words(p, lex, topk) == lexicon_mod.rank_words(p, lex, topk, exhaustive=True)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 8), st.lists(st.text(alphabet="abcd", min_size=1, max_size=5),
                                                              min_size=1, max_size=30, unique=True))
def test_presence_bound_never_underestimates(seed, T, words):
    cs = charset_of(5)
    p = random_probs(seed, T, 5)
    lex = Lexicon(words, cs)
    bound = lexicon_mod.presence_bound(lex.column_probs(p), lex)
    exact = np.array([ctc_log_likelihood_ref(np.log(p), [cs.index(c) for c in w], 0) for w in lex.words])
    assert (bound + lexicon_mod.BOUND_SLACK >= exact).all()
    if T == 1:  # one step: P("x") is exactly P(x emitted somewhere), the bound is tight
        single = np.diff(lex.offsets) == 1
        np.testing.assert_allclose(bound[single], exact[single], atol=LOG_ATOL)


@SETTINGS
@given(tiny, st.text(alphabet="abAB", min_size=1, max_size=4))
def test_case_insensitive_score_is_the_case_folded_model(case, word):
    # Case-insensitive scoring is exact CTC on the model with each letter's cases merged.
    seed, T, _, _ = case
    cs = ["", "a", "A", "b", "B"]
    p = random_probs(seed, T, 5)
    folded = np.stack([p[:, 0], p[:, 1] + p[:, 2], p[:, 3] + p[:, 4]], axis=1)
    want = log_or_inf(brute_force_labellings(folded, 0).get(tuple("ab".index(c) + 1 for c in word.lower()), 0.0))
    d = ctc_lexicon(p, cs, [word], case_insensitive=True)
    if want == -math.inf:
        assert d.text == ""
    else:
        assert d.text == word and d.alternatives[0][1] == pytest.approx(want, abs=LOG_ATOL)
        assert "".join(cs[k] for k in d.labels).lower() == word.lower()


def test_lexicon_case_insensitive_scores_the_case_the_model_emits():
    cs = [""] + list("AOTUaotu")
    p = np.full((8, 9), 1e-3)
    for t, k in enumerate([1, 0, 8, 0, 7, 0, 6, 0]):  # "Auto"
        p[t, k] = 1.0
    p /= p.sum(axis=1, keepdims=True)
    lex = Lexicon(["OUT", "AUTO", "TOO"], cs, case_insensitive=True)
    d = ctc_lexicon(p, cs, lex)
    assert d.text == "AUTO" and d.labels == (1, 8, 7, 6) and d.confidence > 0.9
    assert ctc_lexicon(p, cs, ["OUT", "AUTO", "TOO"]).alternatives[0][1] < -10  # case-sensitive: no good match


def test_lexicon_soft_mode_keeps_out_of_lexicon_text():
    cs = [""] + list("0123abc")
    p = np.full((6, 8), 1e-4)
    for t, k in enumerate([2, 0, 3, 0, 4, 0]):  # "123"
        p[t, k] = 1.0
    p /= p.sum(axis=1, keepdims=True)
    assert ctc_lexicon(p, cs, ["abc", "cab"]).text in ("abc", "cab")
    assert ctc_lexicon(p, cs, ["abc", "cab"], mode="soft").text == "123"
    assert ctc_lexicon(p, cs, ["abc", "12", "123"], mode="soft").text == "123"
    assert decode(p, cs, lexicon=["abc", "12"], lexicon_mode="soft").text == "123"


def test_lexicon_skips_unspellable_words_once_with_a_warning():
    with pytest.warns(UserWarning, match=r"skipped 2 of 4 words.*'xyz'") as record:
        lex = Lexicon(["ab", "xyz", "ba", ""], ["", "a", "b"])
    assert len(record) == 1 and lex.words == ("ab", "ba")
    with warnings.catch_warnings(), pytest.raises(DecodeOptionError, match="none of the 2 words"):
        warnings.simplefilter("ignore")
        Lexicon(["xyz", "q"], ["", "a", "b"])


def test_lexicon_word_longer_than_line_gives_empty_text():
    p = softmax(np.zeros((3, 3)))
    d = ctc_lexicon(p, ["", "a", "b"], ["aaa", "abab"])  # "aaa" needs 5 steps
    assert d.text == "" and d.confidence == 0.0


# ---- filters -------------------------------------------------------------------------------

@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(3, 11), st.data())
def test_allowlist_results_contain_only_allowed_chars(seed, T, K, data):
    cs = charset_of(K)
    allowed = data.draw(st.sets(st.sampled_from(cs[1:]), min_size=1))
    p = random_probs(seed, T, K)
    f = apply_char_filter(p, cs, allowlist="".join(allowed))
    np.testing.assert_allclose(f.sum(axis=1), 1.0)
    assert (f[:, [cs.index(c) for c in cs[1:] if c not in allowed]] == 0).all()
    for kwargs in ({}, {"decoder": "beam", "topk": 5}):
        d = decode(p, cs, allowlist="".join(allowed), **kwargs)
        assert set(d.text) <= allowed and all(set(t) <= allowed for t, _ in d.alternatives)
    d = decode(p, cs, blocklist=list(allowed), decoder="beam") if len(allowed) < K - 1 else None
    assert d is None or not set(d.text) & allowed


def test_char_filter_row_with_all_mass_removed_becomes_blank():
    p = np.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]])
    f = apply_char_filter(p, ["", "a", "b"], blocklist="a")
    np.testing.assert_allclose(f, [[1.0, 0.0, 0.0], [0.2 / 0.7, 0.0, 0.5 / 0.7]])
    assert apply_char_filter(p, ["", "a", "b"]) is p


# ---- options and inputs --------------------------------------------------------------------

P = softmax(np.random.default_rng(0).normal(size=(5, 4)))
CS = ["", "a", "b", "c"]


@pytest.mark.parametrize("kwargs, match", [
    ({"decoder": "beam", "beam_width": 0}, "beam_width"),
    ({"beam_width": -3}, "beam_width"),
    ({"beam_width": 2.5}, "beam_width"),
    ({"decoder": "wordbeam"}, "unknown decoder 'wordbeam'"),
    ({"lexicon": []}, "lexicon is empty"),
    ({"lexicon": ["zz"]}, "none of the 1 words"),
    ({"topk": 0}, "topk"),
    ({"topk": 2}, "topk > 1 needs decoder='beam'"),
    ({"blank": 4}, "blank"),
    ({"lexicon": ["ab"], "lexicon_mode": "fuzzy"}, "lexicon_mode"),
    ({"allowlist": "az"}, r"cannot emit: \['z'\]"),
    ({"allowlist": ""}, "leaves no character"),
    ({"blocklist": "abc"}, "leaves no character"),
])
def test_decode_bad_options_raise_decode_option_error(kwargs, match):
    with warnings.catch_warnings(), pytest.raises(DecodeOptionError, match=match):
        warnings.simplefilter("ignore")
        decode(P, CS, **kwargs)


@pytest.mark.parametrize("call, err", [
    (lambda: ctc_beam(P, CS, prune=1.0), DecodeOptionError),
    (lambda: ctc_beam(P, CS, max_candidates=0), DecodeOptionError),
    (lambda: ctc_lexicon(P, CS, ["ab"], mode="soft", margin=-1), DecodeOptionError),
    (lambda: ctc_lexicon(P, CS, Lexicon(["ab"], ["", "a", "b"])), DecodeOptionError),
    (lambda: decode(np.log(P), CS), DecodeOptionError),
    (lambda: decode(P[:, :3], CS), InputTypeError),
    (lambda: decode(P.astype(int), CS), InputTypeError),
    (lambda: decode(P, CS, lexicon="abc"), InputTypeError),
])
def test_decoders_reject_bad_input(call, err):
    with pytest.raises(err):
        call()


def test_decode_empty_line_and_float32():
    assert decode(np.zeros((0, 4)), CS, decoder="beam").text == ""
    d32, d64 = decode(P.astype(np.float32), CS, decoder="beam"), decode(P, CS, decoder="beam")
    assert d32.text == d64.text and d32.confidence == pytest.approx(d64.confidence, rel=1e-5)


def test_numpy_backend_matches_numba(monkeypatch):
    p = random_probs(7, 40, 12, scale=3.0)
    cs = charset_of(12)
    words = ["".join(w) for w in itertools.product("abcd", repeat=3)]
    runs = {}
    for backend in ("numba", "numpy"):
        monkeypatch.setenv("TINYCRNN_KERNELS", backend)
        runs[backend] = (ctc_beam(p, cs, topk=3), ctc_lexicon(p, cs, words, topk=3))
    for a, b in zip(*runs.values()):
        assert a.text == b.text and a.spans == b.spans and a.confidence == pytest.approx(b.confidence)
        np.testing.assert_allclose([s for _, s in a.alternatives], [s for _, s in b.alternatives], atol=LOG_ATOL)


def test_import_decode_does_not_import_numba():
    code = "import sys, tinycrnn.decode; print('numba' in sys.modules)"
    out = run_python("-c", code, check=True)
    assert out.stdout.strip() == "False"
