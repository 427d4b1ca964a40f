"""How far the installed OpenCV moves tinycrnn's output: english_g2 parity on the real crops, and the cv2 calls
tinycrnn makes, compared with what other OpenCV versions returned.

    python -m benchmarks.opencv_spread [--backend numba] [--json]
    python -m benchmarks.opencv_spread --dump /tmp/cv2-4.14.npz            # in one venv ...
    python -m benchmarks.opencv_spread --against /tmp/cv2-4.14.npz ...     # ... compared in another

Parity: each real crop of tests/data/english_g2 goes through tinycrnn's own preprocessing (cv2.imread,
cv2.resize INTER_LINEAR) and the engine; the gap is max |logit - PyTorch logit| over the case (tolerance
``tests/tolerances.py: LOGITS_ATOL``). ``resize≠ref`` is the share of resized pixels that differ from the
reference tensor, whose resize ran under the OpenCV named in cases.json (``produced_with``). The
``stored-input`` row runs the reference tensors themselves: the engine's share of the gap, without cv2.

Calls (``--dump`` / ``--against``): every kind of cv2 call in tinycrnn/preprocess.py, image_io.py and page/,
with the page pipeline's parameters, on the real crops and the first ``--pages`` SROIE pages; the table gives
the share of output elements that differ from the saved run, and the largest difference.
"""
import argparse
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF = os.path.join(HERE, "tests", "data", "english_g2")
DEFAULT_SROIE = os.environ.get("TINYCRNN_SROIE", os.path.join(os.path.dirname(HERE), "shared", "data", "sroie"))


def _u8_of_input(x, spec):
    """Invert ``(u8 * scale - mean) / std`` on a (1, H, W) reference tensor (exact for u8 inputs)."""
    return np.rint((x[0] * spec.std + spec.mean) / spec.scale).astype(np.int32)


def parity(backend: str):
    """Per real crop: resized width, share of resized pixels != reference, logit gap, text equal."""
    import cv2

    import tinycrnn
    from tinycrnn.decode import ctc_greedy, softmax
    from tinycrnn.preprocess import LineSpec, prepare_lines, resize_line

    with open(os.path.join(REF, "cases.json"), encoding="utf-8") as f:
        meta = json.load(f)
    model = tinycrnn.load_model("english_g2", backend=backend)
    spec = LineSpec.from_manifest(model.manifest)
    rows, stored_gap = [], 0.0
    for case in meta["cases"]:
        ref_x = np.load(os.path.join(REF, case["input"]))
        ref_logits = np.load(os.path.join(REF, case["logits"]))
        if case["kind"] != "real":
            continue
        gray = cv2.imread(os.path.join(REF, case["image"]), cv2.IMREAD_GRAYSCALE)
        mine = resize_line(gray, spec)
        w = mine.shape[-1]
        delta = np.abs(_u8_of_input(mine, spec) - _u8_of_input(ref_x[0][:, :, :w], spec))
        logits = model.forward(prepare_lines([gray], spec))[0]
        stored_gap = max(stored_gap, float(np.abs(model.forward(ref_x)[0] - ref_logits).max()))
        text = ctc_greedy(softmax(logits), model.charset).text
        rows.append({"case": case["name"], "width": w, "resize_diff": float((delta > 0).mean()),
                     "max_du8": int(delta.max()),
                     "gap": float(np.abs(logits - ref_logits).max()), "text_equal": text == case["text"]})
    return rows, stored_gap, meta.get("produced_with", "")


def _crops():
    import cv2

    with open(os.path.join(REF, "cases.json"), encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    return [(c["name"], cv2.imread(os.path.join(REF, c["image"]), cv2.IMREAD_GRAYSCALE)) for c in cases if c["kind"] == "real"]


def _pages(data: str, n: int):
    if n <= 0 or not os.path.exists(os.path.join(data, "pages.tsv")):
        return []
    with open(os.path.join(data, "pages.tsv"), encoding="utf-8") as f:
        paths = [line.split("\t")[0] for line in f if line.strip()][:n]
    return [(os.path.basename(p), open(os.path.join(data, p), "rb").read()) for p in paths]


def call_outputs(data: str, n_pages: int) -> dict:
    """name -> array: each kind of cv2 call tinycrnn makes, on the real crops and the SROIE pages."""
    import cv2

    out = {}
    rect = cv2.MORPH_RECT
    for name, gray in _crops():
        h, w = gray.shape
        out[f"resize_linear/{name}"] = cv2.resize(gray, (max(1, int(64 * w / h)), 64), interpolation=cv2.INTER_LINEAR)
        out[f"resize_linear_32/{name}"] = cv2.resize(gray, (max(1, int(32 * w / h)), 32), interpolation=cv2.INTER_LINEAR)
        out[f"resize_area_x/{name}"] = cv2.resize(gray, (max(1, round(w * 0.8)), h), interpolation=cv2.INTER_AREA)
    for name, raw in _pages(data, n_pages):
        buf = np.frombuffer(raw, np.uint8)
        bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        gray_dec = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        H, W = gray.shape
        out[f"imdecode_color/{name}"] = bgr
        out[f"imdecode_gray/{name}"] = gray_dec
        out[f"cvtColor_bgr2gray/{name}"] = gray
        out[f"cvtColor_gray2bgr/{name}"] = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
        out[f"resize_area/{name}"] = cv2.resize(gray, (W // 2, H // 2), interpolation=cv2.INTER_AREA)
        out[f"resize_linear_up/{name}"] = cv2.resize(gray, (W * 5 // 4, H * 5 // 4), interpolation=cv2.INTER_LINEAR)
        out[f"resize_linear_down/{name}"] = cv2.resize(gray, (W * 3 // 4, H * 3 // 4), interpolation=cv2.INTER_LINEAR)
        out[f"GaussianBlur3/{name}"] = cv2.GaussianBlur(gray, (3, 3), 0)
        out[f"GaussianBlur5/{name}"] = cv2.GaussianBlur(gray, (5, 5), 0)
        out[f"threshold_otsu/{name}"] = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]
        mask = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 10)
        out[f"adaptiveThreshold/{name}"] = mask
        out[f"morph_open/{name}"] = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(rect, (25, 1)))
        out[f"morph_close/{name}"] = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(rect, (9, 1)))
        out[f"dilate/{name}"] = cv2.dilate(mask, cv2.getStructuringElement(rect, (1, 3)))
        out[f"subtract_or/{name}"] = cv2.subtract(mask, cv2.bitwise_or(out[f"morph_open/{name}"], out[f"dilate/{name}"]))
        out[f"connectedComponents/{name}"] = cv2.connectedComponentsWithStats(mask, connectivity=8)[2]
        out[f"clahe/{name}"] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)
        M = cv2.getRotationMatrix2D((W / 2.0, H / 2.0), 1.3, 1.0)
        out[f"warpAffine/{name}"] = cv2.warpAffine(gray, M, (W, H), flags=cv2.INTER_LINEAR,
                                                   borderMode=cv2.BORDER_CONSTANT, borderValue=255)
        out[f"invertAffine/{name}"] = cv2.invertAffineTransform(M)
    # page/draw.py (--draw): boxes and labels; the test pages of tests/test_page.py are drawn the same way
    canvas = np.full((120, 700, 3), 255, np.uint8)
    cv2.polylines(canvas, [np.array([[10, 10], [300, 14], [298, 60], [8, 56]], np.int32)], True, (0, 0, 255), 2, cv2.LINE_AA)
    cv2.putText(canvas, "Shop 12 Jalan Besar 45.60", (20, 100), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2, cv2.LINE_AA)
    out["putText/canvas"] = canvas
    out["getTextSize/text"] = np.array(cv2.getTextSize("Shop 12 Jalan Besar", cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)[0])
    return out


def compare(mine: dict, saved: dict):
    """Per call kind: elements compared, share that differ, largest |difference|, arrays of another shape."""
    kinds = {}
    for key, a in mine.items():
        k = kinds.setdefault(key.split("/")[0], {"n": 0, "diff": 0, "max": 0.0, "shape": 0})
        b = saved.get(key)
        if b is None or b.shape != a.shape:
            k["shape"] += 1
            continue
        d = np.abs(a.astype(np.float64) - b.astype(np.float64))
        k["n"] += d.size
        k["diff"] += int((d > 0).sum())
        k["max"] = max(k["max"], float(d.max()) if d.size else 0.0)
    return kinds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="numba", choices=["numba", "numpy"])
    ap.add_argument("--data", default=DEFAULT_SROIE, help="SROIE page folder (pages.tsv) for the call comparison")
    ap.add_argument("--pages", type=int, default=4, help="SROIE pages in the call comparison")
    ap.add_argument("--dump", default="", help="save this OpenCV's call outputs to this .npz")
    ap.add_argument("--against", nargs="*", default=[], help="saved .npz files to compare this OpenCV's calls with")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    import cv2

    rows, stored_gap, produced_with = parity(args.backend)
    worst = max(r["gap"] for r in rows)
    result = {"cv2": cv2.__version__, "numpy": np.__version__, "backend": args.backend, "reference": produced_with,
              "worst_gap": worst, "stored_input_gap": stored_gap, "texts_equal": all(r["text_equal"] for r in rows),
              "cases": rows, "calls": {}}
    print(f"OpenCV {cv2.__version__}, numpy {np.__version__}, backend {args.backend}; reference: {produced_with}")
    print(f"{'case':<18} {'width':>5} {'resize≠ref':>10} {'max|Δu8|':>8} {'gap':>9} {'text':>5}")
    for r in rows:
        print(f"{r['case']:<18} {r['width']:>5} {r['resize_diff']:10.4f} {r['max_du8']:>8} {r['gap']:9.2e} "
              f"{'=' if r['text_equal'] else '≠':>5}")
    print(f"{'worst (real crops)':<18} {'':>5} {'':>10} {'':>8} {worst:9.2e} {'=' if result['texts_equal'] else '≠':>5}")
    print(f"{'stored-input':<18} {'':>5} {'':>10} {'':>8} {stored_gap:9.2e}")

    if args.dump or args.against:
        mine = call_outputs(args.data, args.pages)
        if args.dump:
            np.savez_compressed(args.dump, **mine)
            print(f"wrote {len(mine)} call outputs to {args.dump}")
        for path in args.against:
            with np.load(path) as z:
                saved = {k: z[k] for k in z.files}
            kinds = compare(mine, saved)
            result["calls"][os.path.basename(path)] = kinds
            print(f"\ncv2 {cv2.__version__} against {path}")
            print(f"{'call':<20} {'elements':>10} {'differ':>9} {'max|Δ|':>8} {'shape≠':>6}")
            for k, v in kinds.items():
                share = v["diff"] / v["n"] if v["n"] else 0.0
                print(f"{k:<20} {v['n']:>10} {share:9.5f} {v['max']:8.3g} {v['shape']:>6}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
