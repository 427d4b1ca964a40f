"""Text drawn into test images from committed fixtures instead of ``cv2.putText``.

Why: the Hershey glyphs of ``cv2.putText`` change between OpenCV releases (5.1.0 draws other
shapes than 5.0.0, 4.14 others again), so pages rendered at test time were different inputs under
different OpenCV versions and page tests failed for reasons that had nothing to do with tinycrnn.
Here each text run the tests draw is a stored alpha mask, rendered once by OpenCV 5.0.0 (the
release under which every page test passed), and composited the way OpenCV's anti-aliased drawing
composites: ``out = img * (1 - a) + color * a`` per channel. That reproduces ``cv2.putText``
exactly for the tests' black text on white, and within one grey level elsewhere (where cv2 rounds
each overlapping anti-aliased stroke on its own). ``text_size`` returns the stored
``cv2.getTextSize`` answer.

Fixtures live in ``tests/data/text/``: ``index.json`` holds every size and every mask's placement
(offset of its top-left pixel from the text origin), and one tight PNG per rendered run. A call
the index does not know is an error naming the switch that renders it: run the tests that need
it with ``TINYCRNN_RENDER_TEXT_FIXTURES=1`` (ideally under opencv-python-headless 5.0.0, so new
fixtures match the old ones) and commit the new files. With the switch on, every call renders
with cv2, overwrites its entry, and checks that compositing the mask gives what ``cv2.putText``
draws on the same image.
"""
import hashlib
import json
import os
import re

import cv2
import numpy as np

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "text")
INDEX = os.path.join(DIR, "index.json")
SWITCH = "TINYCRNN_RENDER_TEXT_FIXTURES"

_index = None


def _rendering() -> bool:
    return os.environ.get(SWITCH, "") not in ("", "0")


def _load() -> dict:
    global _index
    if _index is None:
        if os.path.exists(INDEX):
            with open(INDEX, encoding="utf-8") as f:
                _index = json.load(f)
        else:
            _index = {"rendered_with": None, "sizes": {}, "masks": {}}
    return _index


def _save() -> None:
    idx = _load()
    idx["rendered_with"] = "opencv " + cv2.__version__
    os.makedirs(DIR, exist_ok=True)
    lines = [f' "rendered_with": {json.dumps(idx["rendered_with"])}']
    for part in ("sizes", "masks"):  # one entry a line: small diffs when fixtures are added
        rows = [f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(v)}" for k, v in sorted(idx[part].items())]
        lines.append(f' "{part}": {{\n' + ",\n".join(rows) + "\n }")
    with open(INDEX, "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


def _key(*parts) -> str:
    # floats as repr so 1 and 1.0 are one key; ints (font, thickness, line type) as ints
    return json.dumps([parts[0], *(float(p) if isinstance(p, float) else int(p) for p in parts[1:])],
                      ensure_ascii=False)


class MissingTextFixture(LookupError):
    """A text run the committed fixtures do not hold (the message says how to render it)."""


def _missing(kind: str, key: str) -> MissingTextFixture:
    return MissingTextFixture(f"no text fixture for {kind} {key} in {INDEX}; render it with {SWITCH}=1 "
                    f"(under opencv-python-headless 5.0.0) and commit tests/data/text/")


def text_size(text: str, font: int, scale: float, thickness: int):
    """``cv2.getTextSize``: ``((width, height), baseline)`` of ``text``, from the fixtures."""
    key, sizes = _key(text, font, scale, thickness), _load()["sizes"]
    if _rendering():
        (w, h), base = cv2.getTextSize(text, font, scale, thickness)
        if sizes.get(key) != [w, h, base]:
            sizes[key] = [w, h, base]
            _save()
    if key not in sizes:
        raise _missing("size", key)
    w, h, base = sizes[key]
    return (w, h), base


def _render_mask(text, font, scale, thickness, line_type):
    """Coverage (0-255) of ``text`` drawn black on white by cv2, cropped tight, and its top-left offset."""
    (w, h), base = cv2.getTextSize(text, font, scale, thickness)
    pad = 4 * thickness + 8
    canvas = np.full((h + base + 2 * pad, w + 2 * pad), 255, np.uint8)
    cv2.putText(canvas, text, (pad, pad + h), font, scale, 0, thickness, line_type)
    cover = 255 - canvas
    if cover[[0, -1], :].any() or cover[:, [0, -1]].any():
        raise AssertionError(f"render of {text!r} reached the canvas edge; widen the pad")
    ys, xs = np.nonzero(cover)
    if len(ys) == 0:
        return None, (0, 0)
    y0, x0 = ys.min(), xs.min()
    return cover[y0 : ys.max() + 1, x0 : xs.max() + 1], (int(x0 - pad), int(y0 - pad - h))


def _mask(text, font, scale, thickness, line_type):
    key, masks = _key(text, font, scale, thickness, line_type), _load()["masks"]
    if _rendering():
        cover, (dx, dy) = _render_mask(text, font, scale, thickness, line_type)
        slug = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:24] or "text"
        name = f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:10]}.png"
        entry = {"png": name if cover is not None else None, "dx": dx, "dy": dy}
        if cover is not None:
            cv2.imwrite(os.path.join(DIR, name), cover, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        if masks.get(key) != entry:
            masks[key] = entry
            _save()
    if key not in masks:
        raise _missing("mask", key)
    entry = masks[key]
    if entry["png"] is None:
        return None, (0, 0)
    cover = cv2.imread(os.path.join(DIR, entry["png"]), cv2.IMREAD_UNCHANGED)
    if cover is None:
        raise _missing("mask file", entry["png"])
    return cover, (entry["dx"], entry["dy"])


def put_text(img, text, org, font, scale, color, thickness=1, line_type=cv2.LINE_8):
    """``cv2.putText`` from the fixtures: draws into ``img`` (uint8, gray or multi-channel) in place and
    returns it. ``color`` follows cv2: a scalar means ``(c, 0, 0, 0)``; clipped at the image borders."""
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise TypeError("put_text draws into a uint8 gray or multi-channel image")
    if _rendering():
        expected = img.copy()
        cv2.putText(expected, text, tuple(int(v) for v in org), font, scale, color, thickness, line_type)
    cover, (dx, dy) = _mask(text, font, scale, thickness, line_type)
    if cover is not None:
        x0, y0 = int(org[0]) + dx, int(org[1]) + dy
        h, w = cover.shape
        ix0, iy0 = max(x0, 0), max(y0, 0)
        ix1, iy1 = min(x0 + w, img.shape[1]), min(y0 + h, img.shape[0])
        if ix0 < ix1 and iy0 < iy1:
            a = cover[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0].astype(np.float64) / 255.0
            channels = 1 if img.ndim == 2 else img.shape[2]
            col = np.zeros(4)
            col[: len(np.atleast_1d(color))] = np.atleast_1d(color)[:4]
            region = img[iy0:iy1, ix0:ix1].astype(np.float64)
            if img.ndim == 2:
                out = region * (1.0 - a) + col[0] * a
            else:
                out = region * (1.0 - a[..., None]) + col[:channels] * a[..., None]
            img[iy0:iy1, ix0:ix1] = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    if _rendering():
        diff = np.abs(img.astype(np.int16) - expected.astype(np.int16)).max(initial=0)
        if diff > 1:
            raise AssertionError(f"fixture composite of {text!r} differs from cv2.putText by {diff} levels")
    return img
