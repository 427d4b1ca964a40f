"""Decoder accuracy on the word sets: greedy vs beam, and SVT with its 50-word lexicons.

    python -m benchmarks.eval_decoders --data ../shared/data [--sets svt,iiit5k,icdar2013,icdar2015]

Protocol (PEERS.md): lower-case, keep [0-9a-z], exact match. SVT-50 decodes each crop against
its photo's lexicon: CTC-likelihood selection, case-insensitive, pruned (the default) and
exhaustive (they must agree); two other case treatments (best of 4 case forms; case-sensitive);
and the classic snap of the greedy text to the nearest word by edit distance.
The model runs once per image; every decoder reads the same probabilities.
"""
import argparse
import math
import os
import re
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def norm(s: str) -> str:
    return re.sub(r"[^0-9a-z]", "", s.lower())


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def probabilities(rec, data, name, rows):
    """(T, K) probabilities of every image of a set, model run once, in batches."""
    probs, batch = [], 32
    for i in range(0, len(rows), batch):
        imgs = [rec.load(os.path.join(data, name, r[0])) for r in rows[i:i + batch]]
        probs += rec.probabilities(imgs)
    return probs


def accuracy(hits):
    return 100.0 * sum(hits) / max(len(hits), 1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(ROOT), "shared", "data"))
    ap.add_argument("--sets", default="svt,iiit5k,icdar2013,icdar2015")
    ap.add_argument("--model", default="english_g2")
    ap.add_argument("--beam-width", type=int, default=10)
    ap.add_argument("--limit", type=int, default=0, help="first N images per set (0 = all)")
    args = ap.parse_args(argv)

    import tinycrnn
    from tinycrnn.decode import Lexicon, ctc_beam, ctc_greedy, ctc_lexicon
    from tinycrnn.decode.ctc import labelling_log_likelihood

    rec = tinycrnn.Recognizer(args.model)
    cs, blank = rec.charset, rec.model.blank_index
    index = {c: k for k, c in enumerate(cs) if k != blank}

    def best_case_form(p, word):
        """The alternative to case folding: a word scores as its best as-given/lower/UPPER/Capitalized form."""
        forms = dict.fromkeys((word, word.lower(), word.upper(), word.capitalize()))
        forms = [f for f in forms if set(f) <= index.keys()]
        return max((labelling_log_likelihood(p, [index[c] for c in f], blank) for f in forms), default=-math.inf)

    print(f"{'set':<10} {'N':>5} {'greedy':>8} {'beam':>8}  beam!=greedy (beam right / greedy right)")
    for name in args.sets.split(","):
        rows = read_tsv(os.path.join(args.data, name, "labels.tsv"))
        rows = rows[:args.limit] if args.limit else rows
        t0 = time.perf_counter()
        probs = probabilities(rec, args.data, name, rows)
        t_model = time.perf_counter() - t0
        truth = [norm(r[1]) for r in rows]
        greedy = [norm(ctc_greedy(p, cs, blank).text) for p in probs]
        t0 = time.perf_counter()
        beam = [norm(ctc_beam(p, cs, blank, args.beam_width).text) for p in probs]
        t_beam = (time.perf_counter() - t0) / len(probs) * 1e3
        diff = [i for i in range(len(rows)) if beam[i] != greedy[i]]
        print(f"{name:<10} {len(rows):>5} {accuracy([g == t for g, t in zip(greedy, truth)]):8.2f} "
              f"{accuracy([b == t for b, t in zip(beam, truth)]):8.2f}  {len(diff)} "
              f"({sum(beam[i] == truth[i] for i in diff)} / {sum(greedy[i] == truth[i] for i in diff)})"
              f"  [model {t_model:.0f} s, beam {t_beam:.2f} ms/word]")
        if name != "svt":
            continue
        lexicons = {r[0]: r[1].split(",") for r in read_tsv(os.path.join(args.data, name, "lexicon50.tsv"))}
        results = {"ctc, pruned": [], "ctc, exhaustive": [], "ctc, best of 4 case forms": [],
                   "ctc, case-sensitive": [], "greedy + edit distance": []}
        t_lex = 0.0
        for r, p, g in zip(rows, probs, greedy):
            words = lexicons[r[0]]
            lex = Lexicon(words, cs, blank, case_insensitive=True)
            t0 = time.perf_counter()
            results["ctc, pruned"].append(ctc_lexicon(p, cs, lex, blank).text)
            t_lex += time.perf_counter() - t0
            results["ctc, exhaustive"].append(ctc_lexicon(p, cs, lex, blank, exhaustive=True).text)
            results["ctc, best of 4 case forms"].append(max(words, key=lambda w: best_case_form(p, w)))
            results["ctc, case-sensitive"].append(ctc_lexicon(p, cs, words, blank).text)
            results["greedy + edit distance"].append(min(words, key=lambda w: edit_distance(g, norm(w))))
        for method, out in results.items():
            hits = [norm(o) == t for o, t in zip(out, truth)]
            print(f"  svt-50 {method:<26} {accuracy(hits):6.2f}")
        print(f"  svt-50 pruned {t_lex / len(rows) * 1e3:.2f} ms/crop (case-insensitive, "
              f"{sum(len(lexicons[r[0]]) for r in rows) / len(rows):.0f} words per lexicon on average)")
        # Most SVT-50 lexicons are small enough to be scored exhaustively anyway; the union of all
        # of them exercises the bound on real probabilities.
        full = Lexicon(list(dict.fromkeys(w for ws in lexicons.values() for w in ws)), cs, blank, case_insensitive=True)
        t0 = time.perf_counter()
        pruned = [ctc_lexicon(p, cs, full, blank).text for p in probs]
        t_full = (time.perf_counter() - t0) / len(rows) * 1e3
        t0 = time.perf_counter()
        exhaustive = [ctc_lexicon(p, cs, full, blank, exhaustive=True).text for p in probs]
        t_exh = (time.perf_counter() - t0) / len(rows) * 1e3
        print(f"  svt-full ({len(full)} words) pruned {accuracy([norm(o) == t for o, t in zip(pruned, truth)]):6.2f}"
              f" ({t_full:.2f} ms/crop), exhaustive {accuracy([norm(o) == t for o, t in zip(exhaustive, truth)]):6.2f}"
              f" ({t_exh:.2f} ms/crop), same word on {sum(a == b for a, b in zip(pruned, exhaustive))}/{len(rows)}")


if __name__ == "__main__":
    main()
