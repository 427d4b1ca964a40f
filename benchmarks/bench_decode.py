"""CTC decoder latency on synthetic, realistically peaky output (no model needed).

    python -m benchmarks.bench_decode [--runs 30] [--json]

Cases: beam width 10 on a 97-class 95-step line (english_g2) and a 6625-class 80-step line
(PP-OCRv2, float32 as the model emits it), greedy on both for scale, and lexicon decoding of a
31-step word against 50 and 10,000 random words (fixed seed), pruned and exhaustive. The first
call of each case (JIT compile or cache load) is printed on its own line, then min / median /
max over ``--runs`` calls after one warm-up call.
"""
import argparse
import json
import os
import string
import time

from .machine import machine_info, set_threads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EN_CHARSET = [""] + list("0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ €" + string.ascii_uppercase
                         + string.ascii_lowercase)
ZH_CHARSET = [""] + [chr(0x4E00 + i) for i in range(6623)] + [" "]


def peaky_probs(labels, T, K, rng, peak=9.0, confusion=0.15):
    """(T, K) probabilities of a line reading ``labels``: each label holds a run of 1-3 steps with
    blanks between, logits = N(0, 1) noise + ``peak`` on the step's class, and with probability
    ``confusion`` a step also lifts a random class to within one logit of the winner."""
    import numpy as np

    from tinycrnn.decode import softmax

    logits = rng.normal(0.0, 1.0, size=(T, K))
    path = np.zeros(T, dtype=np.int64)
    t = int(rng.integers(0, 3))
    for k in labels:
        run = int(rng.integers(1, 4))
        path[t:t + run] = k
        t += run + int(rng.integers(1, 3))
        if t >= T:
            break
    logits[np.arange(T), path] += peak
    confused = rng.random(T) < confusion
    logits[confused, rng.integers(1, K, size=int(confused.sum()))] += peak - 1.0
    return softmax(logits)


def random_words(n, seed, alphabet=string.ascii_uppercase, lengths=(3, 11)):
    """``n`` distinct random words (SVT-style upper case), reproducible from ``seed``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    words = {}
    while len(words) < n:
        words["".join(rng.choice(list(alphabet), size=int(rng.integers(*lengths))))] = None
    return list(words)


def timeit(fn, runs):
    import numpy as np

    t0 = time.perf_counter()
    fn()
    first = (time.perf_counter() - t0) * 1e3
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return first, float(np.min(times)), float(np.median(times)), float(np.max(times))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="append results to benchmarks/results/<cpu>.jsonl")
    args = ap.parse_args(argv)
    set_threads(args.threads)
    import numpy as np

    from tinycrnn.decode import Lexicon, ctc_beam, ctc_beam_ref, ctc_greedy, ctc_lexicon

    rng = np.random.default_rng(args.seed)
    p97 = peaky_probs(rng.integers(1, len(EN_CHARSET), size=40), 95, len(EN_CHARSET), rng)
    p6625 = peaky_probs(rng.integers(1, 6625, size=30), 80, 6625, rng).astype(np.float32)
    words = random_words(10000, 1234)
    truth = words[4321]
    p_word = peaky_probs([EN_CHARSET.index(c) for c in truth], 31, len(EN_CHARSET), rng)
    cases = [
        ("greedy", "95x97", lambda: ctc_greedy(p97, EN_CHARSET), args.runs),
        ("beam w=10", "95x97", lambda: ctc_beam(p97, EN_CHARSET, beam_width=10), args.runs),
        ("beam w=10 ref (python, no prune)", "95x97", lambda: ctc_beam_ref(p97, EN_CHARSET, beam_width=10), 5),
        ("greedy", "80x6625", lambda: ctc_greedy(p6625, ZH_CHARSET), args.runs),
        ("beam w=10", "80x6625", lambda: ctc_beam(p6625, ZH_CHARSET, beam_width=10), args.runs),
    ]
    rows = []
    print(f"truth word for the lexicon cases: {truth}")
    for n in (50, 10000):
        lexicon_words = words[:n] if truth in words[:n] else [truth] + words[:n - 1]
        t0 = time.perf_counter()
        lex = Lexicon(lexicon_words, EN_CHARSET, case_insensitive=True)
        build = (time.perf_counter() - t0) * 1e3
        print(f"Lexicon({n} words, case_insensitive): built once in {build:.1f} ms")
        rows.append({"case": "lexicon build", "shape": f"{n} words", "ms": build})
        got = ctc_lexicon(p_word, EN_CHARSET, lex).text
        assert got == truth, (got, truth)
        cases += [
            ("lexicon hard, pruned", f"31x97 {n}w", lambda lex=lex: ctc_lexicon(p_word, EN_CHARSET, lex), args.runs),
            ("lexicon hard, exhaustive", f"31x97 {n}w",
             lambda lex=lex: ctc_lexicon(p_word, EN_CHARSET, lex, exhaustive=True), max(5, args.runs // 3)),
        ]
    print(f"{'case':<34} {'shape':<13} {'min':>8} {'median':>8} {'max':>8}  ms   (first call)")
    for name, shape, fn, runs in cases:
        first, lo, med, hi = timeit(fn, runs)
        print(f"{name:<34} {shape:<13} {lo:8.3f} {med:8.3f} {hi:8.3f}  ms   ({first:.1f} ms)")
        rows.append({"case": name, "shape": shape, "runs": runs, "first_ms": first, "min_ms": lo, "median_ms": med,
                     "max_ms": hi})
    if args.json:
        info = machine_info()
        os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
        cpu = "".join(c if c.isalnum() else "_" for c in info["cpu"])
        fn = os.path.join(ROOT, "benchmarks", "results", cpu + ".jsonl")
        with open(fn, "a", encoding="utf-8") as f:
            f.write(json.dumps({"bench": "decode", "machine": info, "threads": args.threads, "rows": rows}) + "\n")
        print(f"appended to {fn}")


if __name__ == "__main__":
    main()
