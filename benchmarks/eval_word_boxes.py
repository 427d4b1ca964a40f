"""Word-box quality: IoU of tinycrnn's word boxes with the true ink boxes of rendered words.

Pages are drawn word by word from glyph masks (``tests/textimg.py``'s renderer, cv2 Hershey fonts in
several faces, sizes and word spacings), so every word's ink box is known exactly. Each true word is
matched to the read word box of highest IoU. Prints the share of words with IoU >= 0.5 (the issue's bar:
90%) and the IoU quartiles, per font and overall, and the same share among the words whose best match
was read as exactly that word ("own token"): the misses of the first figure are mostly words the
recogniser ran together (no space read between them), which no box can match.

    python -m benchmarks.eval_word_boxes [--pages 8] [--seed 0] [--skew 0]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))

WORDS = ("TAX INVOICE Shop 12 Jalan Besar Kuala Lumpur Coffee 4.50 Nasi Lemak 7.90 TOTAL 12.40 Cash 50.00 "
         "Change 37.60 Thank you come again The quick brown fox jumps over the lazy dog while reading "
         "documents pages lines words boxes 2026-12-06 RM 3.20 Qty Price Amount GST 6% Rounding 0.05 "
         "Receipt No: 10023 Tel 03-2211 4455 Total Discount Subtotal Payment Visa Card").split()


def render_page(rng, font, scale, thick, gap_spaces, size=(1000, 700)):
    import cv2

    from textimg import _render_mask

    img = np.full((size[1], size[0], 3), 255, np.uint8)
    truth = []
    (sw, sh), _ = cv2.getTextSize(" ", font, scale, thick)
    (_, th), _ = cv2.getTextSize("Tg", font, scale, thick)
    y = 30 + th
    while y < size[1] - 20:
        x = 30
        for _ in range(int(rng.integers(2, 9))):
            w = WORDS[int(rng.integers(len(WORDS)))]
            (ww, _), _ = cv2.getTextSize(w, font, scale, thick)
            if x + ww > size[0] - 30:
                break
            cover, (dx, dy) = _render_mask(w, font, scale, thick, cv2.LINE_AA)
            h, wd = cover.shape
            x0, y0 = x + dx, y + dy
            a = cover.astype(np.float64)[..., None] / 255.0
            img[y0 : y0 + h, x0 : x0 + wd] = np.rint(img[y0 : y0 + h, x0 : x0 + wd] * (1 - a)).astype(np.uint8)
            truth.append((w, (x0, y0, x0 + wd, y0 + h)))
            x += ww + int(round(gap_spaces * sw))
        y += int(th * 2.4)
    return img, truth


def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / u if u > 0 else 0.0


def _row(name, pairs) -> None:
    v = np.array([a for a, _ in pairs])
    own = np.array([a for a, same in pairs if same])
    print(f"{name:16s} {len(v):6d} {np.mean(v >= 0.5):9.3f} {np.percentile(v, 25):6.3f} {np.median(v):7.3f} "
          f"{np.percentile(v, 75):6.3f}   {len(own):9d} {np.mean(own >= 0.5) if len(own) else float('nan'):9.3f}")


def main(argv=None) -> int:
    import cv2

    import tinycrnn

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=8, help="pages per font setting")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skew", type=float, default=0.0, help="rotate every page by this many degrees")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    ocr = tinycrnn.OCR()
    settings = [("simplex 1.0/2", cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2), ("simplex 0.7/1", cv2.FONT_HERSHEY_SIMPLEX, 0.7, 1),
                ("duplex 0.9/1", cv2.FONT_HERSHEY_DUPLEX, 0.9, 1), ("complex 1.2/2", cv2.FONT_HERSHEY_COMPLEX, 1.2, 2),
                ("triplex 0.8/1", cv2.FONT_HERSHEY_TRIPLEX, 0.8, 1)]
    every = []
    print(f"{'font':16s} {'words':>6s} {'IoU>=0.5':>9s} {'q25':>6s} {'median':>7s} {'q75':>6s}   "
          f"{'own token':>9s} {'IoU>=0.5':>9s}")
    for name, font, scale, thick in settings:
        ious = []
        for _ in range(args.pages):
            img, truth = render_page(rng, font, scale, thick, float(rng.uniform(1.0, 2.0)))
            M = None
            if args.skew:
                M = cv2.getRotationMatrix2D((img.shape[1] / 2, img.shape[0] / 2), args.skew, 1.0)
                img = cv2.warpAffine(img, M, (img.shape[1], img.shape[0]), borderValue=(255, 255, 255))
            page = ocr.read(img)
            read = [(w.text, w.bbox) for ln in page.lines for w in ln.words]
            for word, t in truth:
                if M is not None:  # the true box of a rotated word: the hull of its rotated corners
                    c = np.array([[t[0], t[1], 1], [t[2], t[1], 1], [t[2], t[3], 1], [t[0], t[3], 1]], float) @ M.T
                    t = (c[:, 0].min(), c[:, 1].min(), c[:, 0].max(), c[:, 1].max())
                best = max(read, key=lambda r: iou(r[1], t), default=("", (0, 0, 0, 0)))
                ious.append((iou(best[1], t), best[0] == word))
        every += ious
        _row(name, ious)
    _row("all", every)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
