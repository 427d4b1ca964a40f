"""PP-OCRv2 in tinycrnn: parity with onnxruntime, accuracy on the dev sets, and one-thread latency.

    OPENBLAS_NUM_THREADS=1 python -m benchmarks.eval_ppocrv2 --data ../shared/data \\
        --onnx ../shared/models/ppocrv2-rec-ch/ch_PP-OCRv2_rec_infer.onnx

Parity (zh_lines vs reference_ppocrv2_onnxruntime.tsv) uses the reference preprocessing
(``right_margin`` 0); accuracy is reported both ways (0 and the shipped margin). Protocols:
zh_lines NFKC + whitespace and '·' removed (per folder), sroie_lines case-insensitive exact
line with whitespace collapsed, iiit5k lower-case [0-9a-z] only. Latency: 1x3x32x320, one
thread, tinycrnn and onnxruntime interleaved in the same run (min and median, wall and process
CPU time: the machines are shared, and CPU time is the steadier of the two under load).
"""
import argparse
import os
import re
import time
import unicodedata

import numpy as np


def read_tsv(path, header=False):
    rows = {}
    with open(path, encoding="utf-8", newline="\n") as f:
        lines = f.read().split("\n")
    for ln in lines[1 if header else 0 :]:
        if not ln:
            continue
        parts = ln.split("\t")
        rows[parts[0]] = parts[1] if len(parts) > 1 else ""
    return rows


def norm_zh(s):
    s = unicodedata.normalize("NFKC", s)
    return re.sub(r"\s+", "", s).replace("\u00b7", "")


def norm_sroie(s):
    return re.sub(r" +", " ", s.lower()).strip()


def norm_word(s):
    return re.sub(r"[^0-9a-z]", "", s.lower())


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def predict(rec, root, paths, margin):
    rec.spec.right_margin = margin
    out = {}
    for i in range(0, len(paths), 32):
        chunk = paths[i : i + 32]
        for p, d in zip(chunk, rec.recognize_batch([os.path.join(root, p) for p in chunk])):
            out[p] = d.text
    return out


def read_recovering_prefix(rec, img, min_steps=6, comma=True, depth=4):
    """Experiment (not in the package): PP-OCRv2 blanks everything left of a line's last comma.
    When the greedy path starts with ``min_steps`` or more blank steps, re-read the crop left of
    the first emitted step and prepend it (recursively, one level per comma); with ``comma``,
    a trailing '.' or nothing on the re-read part becomes ','."""
    from tinycrnn.decode import ctc_greedy

    probs = rec.probabilities([img])[0]
    text = ctc_greedy(probs, rec.charset, rec.model.blank_index).text
    path = probs.argmax(1)
    nz = np.nonzero(path != rec.model.blank_index)[0]
    first = int(nz[0]) if len(nz) else len(path)
    h = img.shape[0]
    col = int(round(first * 4 * h / rec.spec.height))  # 4 input columns per step at the model height
    if depth == 0 or first < min_steps or col < h // 2:
        return text
    prefix = read_recovering_prefix(rec, img[:, :col], min_steps, comma, depth - 1).rstrip()
    if not prefix.strip():
        return text
    if comma:
        prefix = (prefix[:-1] if prefix.endswith(".") else prefix) + ","
    return prefix + text


def score(preds, labels, norm):
    keys = sorted(labels)
    exact = sum(norm(preds[k]) == norm(labels[k]) for k in keys)
    dist = sum(edit_distance(norm(preds[k]), norm(labels[k])) for k in keys)
    total = sum(len(norm(labels[k])) for k in keys)
    return 100.0 * exact / len(keys), dist / max(total, 1), len(keys)


def latency(model_paths, onnx_path, reps):
    """Median-ready samples for each tinycrnn model and onnxruntime, interleaved in one loop."""
    import tinycrnn

    models = [tinycrnn.load_model(p, backend="numba") for p in model_paths]
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 32, 320)).astype(np.float32)
    t0 = time.perf_counter()
    models[0].forward(x)
    first = time.perf_counter() - t0
    sess = None
    if onnx_path and os.path.exists(onnx_path):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = 1
        so.log_severity_level = 3
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
    runs = [m.forward for m in models] + ([lambda v: sess.run(None, {name: v})] if sess else [])
    for _ in range(5):
        for f in runs:
            f(x)
    samples = [([], []) for _ in runs]
    for _ in range(reps):  # interleaved so every model sees the same machine load
        for f, (wall, cpu) in zip(runs, samples):
            t, c = time.perf_counter(), time.process_time()
            f(x)
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
    return first, samples[: len(models)], (samples[-1] if sess else ([], []))


def _zh_report(preds, labels, paths):
    for folder in ("plates", "signboard", "handwriting", ""):
        sub = {p: labels[p] for p in paths if p.startswith(folder)}
        acc, cer, n = score(preds, sub, norm_zh)
        print(f"  {folder or 'all':12s} n={n:4d} exact(norm) {acc:6.2f}  CER {cer:.4f}")


def _comma_report(preds, labels, norm, paths, name):
    if name != "sroie_lines":
        return
    comma = [p for p in paths if "," in labels[p]]
    acc_c, cer_c, _ = score(preds, {p: labels[p] for p in comma}, norm)
    lost = sum(len(norm(preds[p])) < 0.6 * len(norm(labels[p])) for p in comma)
    print(f"  lines with a comma: n={len(comma)} exact {acc_c:.2f} CER {cer_c:.4f}; <60% of text: {lost}")


def main(argv=None):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    shared = os.path.join(os.path.dirname(here), "shared")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(here, "weights", "ppocrv2_zh.tcrnn"),
                    help="model name or .tcrnn path (e.g. ppocrv2_zh-int8)")
    ap.add_argument("--latency-models", default=None,
                    help="comma-separated models timed side by side with onnxruntime (default: --model)")
    ap.add_argument("--data", default=os.path.join(shared, "data"))
    ap.add_argument("--onnx", default=os.path.join(shared, "models", "ppocrv2-rec-ch", "ch_PP-OCRv2_rec_infer.onnx"))
    ap.add_argument("--margins", default="0,64", help="right_margin values to evaluate (comma separated)")
    ap.add_argument("--sets", default="zh_lines,sroie_lines,iiit5k")
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--prefix-recovery", action="store_true", help="also score the comma re-read experiment")
    ap.add_argument("--conv-gemm", action="store_true", help="latency experiment: groups == 1 convs via SGEMM")
    args = ap.parse_args(argv)

    import tinycrnn

    rec = tinycrnn.Recognizer(args.model)
    margins = [int(v) for v in args.margins.split(",")]
    sets = args.sets.split(",")
    print(f"model {args.model}; shipped right_margin {rec.spec.right_margin}")
    if "zh_lines" in sets:
        root = os.path.join(args.data, "zh_lines")
        labels = read_tsv(os.path.join(root, "labels.tsv"))
        ref = read_tsv(os.path.join(root, "reference_ppocrv2_onnxruntime.tsv"), header=True)
        paths = sorted(labels)
        for margin in margins:
            preds = predict(rec, root, paths, margin)
            same = sum(preds[p] == ref[p] for p in paths)
            print(f"zh_lines margin {margin}: identical to onnxruntime {same}/{len(paths)} = {100.0 * same / len(paths):.2f}%")
            if margin == 0:
                for p in paths:
                    if preds[p] != ref[p]:
                        print(f"  differs {p}: tinycrnn {preds[p]!r} onnxruntime {ref[p]!r}")
            _zh_report(preds, labels, paths)
        if args.prefix_recovery:
            rec.spec.right_margin = margins[-1]
            preds = {p: read_recovering_prefix(rec, rec.load(os.path.join(root, p))) for p in paths}
            print(f"zh_lines margin {margins[-1]} + prefix re-read (comma=True):")
            _zh_report(preds, labels, paths)
    for name, norm in (("sroie_lines", norm_sroie), ("iiit5k", norm_word)):
        if name not in sets:
            continue
        root = os.path.join(args.data, name)
        labels = read_tsv(os.path.join(root, "labels.tsv"))
        ref = read_tsv(os.path.join(root, "reference_ppocrv2.tsv"), header=True)
        paths = sorted(labels)
        for margin in margins:
            preds = predict(rec, root, paths, margin)
            acc, cer, n = score(preds, labels, norm)
            same = sum(preds[p] == ref.get(p) for p in paths)
            empty = sum(preds[p].strip() == "" for p in paths)
            print(f"{name} margin {margin}: n={n} exact {acc:6.2f}  CER {cer:.4f}  empty {empty}  "
                  f"identical to reference_ppocrv2.tsv {same}/{n}")
            _comma_report(preds, labels, norm, paths, name)
        if args.prefix_recovery:
            rec.spec.right_margin = margins[-1]
            for use_comma in (False, True):
                preds = {p: read_recovering_prefix(rec, rec.load(os.path.join(root, p)), comma=use_comma) for p in paths}
                acc, cer, n = score(preds, labels, norm)
                print(f"{name} margin {margins[-1]} + prefix re-read (comma={use_comma}): exact {acc:6.2f}  CER {cer:.4f}")
                _comma_report(preds, labels, norm, paths, name)
    if not args.skip_latency:
        if args.conv_gemm:
            import tinycrnn.kernels.conv as kconv

            kconv.HAS_AVX512 = False  # experiment: groups == 1 convs on the im2col + SGEMM path
        names = args.latency_models.split(",") if args.latency_models else [args.model]
        first, tcs, to = latency(names, args.onnx, args.reps)
        print(f"latency 1x3x32x320, {os.environ.get('OPENBLAS_NUM_THREADS', '?')} BLAS thread(s), "
              f"{'SGEMM' if args.conv_gemm else 'default'} conv path: first call {first * 1000:.0f} ms")
        for label, (wall, cpu) in list(zip(names, tcs)) + [("onnxruntime", to)]:
            if wall:
                print(f"  {label:20s} wall min {min(wall) * 1000:6.2f} median {np.median(wall) * 1000:6.2f} | "
                      f"CPU min {min(cpu) * 1000:6.2f} median {np.median(cpu) * 1000:6.2f} ms")
        for label, tc in list(zip(names, tcs))[1:]:  # e.g. --latency-models ppocrv2_zh,ppocrv2_zh-int8
            print(f"  ratio {label}/{names[0]}: wall median {np.median(tc[0]) / np.median(tcs[0][0]):.2f}x, "
                  f"CPU median {np.median(tc[1]) / np.median(tcs[0][1]):.2f}x")
        if to[0]:
            for label, tc in zip(names, tcs):
                print(f"  ratio {label}/onnxruntime: wall median {np.median(tc[0]) / np.median(to[0]):.2f}x, "
                      f"CPU median {np.median(tc[1]) / np.median(to[1]):.2f}x")


if __name__ == "__main__":
    main()
