"""Overlay pictures: the page with each line's box and recognised text drawn on it."""
import os
from typing import Union

import numpy as np

from ..errors import ImageError
from ..image_io import ImageSource


def draw_page(image: Union[ImageSource, np.ndarray], page, color=(0, 0, 255), text_color=(200, 0, 0)) -> np.ndarray:
    """Return a BGR copy of ``image`` with ``page.lines`` boxes (red) and text (blue) drawn.

    Args:
        image: the page that was read (path, bytes or array), in its original size.
        page: a :class:`~tinycrnn.page.pipeline.PageResult`.
    """
    import cv2

    from .pipeline import load_page

    img, scale = load_page(image)
    img = img.copy()
    if img.shape[0] < 400:
        # NOTE: tiny pages get enlarged so the text labels stay legible
        f = 400.0 / img.shape[0]
        img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_NEAREST)
        scale /= f
    thick = max(1, int(round(min(img.shape[:2]) / 600)))
    for line in page.lines:
        pts = np.round(np.asarray(line.box, np.float64) / scale).astype(np.int32)
        cv2.polylines(img, [pts], True, color, thick, cv2.LINE_AA)
        x, y = int(pts[:, 0].min()), int(pts[:, 1].min())
        h = max(8, int(pts[:, 1].max() - y))
        fs = max(0.3, 0.5 * h / 22.0)
        label = line.text.encode("ascii", "replace").decode("ascii")
        cv2.putText(img, label, (x, max(10, y - 2)), cv2.FONT_HERSHEY_SIMPLEX, fs, text_color, max(1, thick // 2), cv2.LINE_AA)
    return img


def save_image(path: str, img: np.ndarray) -> None:
    """Write an image; the format follows the extension (PNG when there is none)."""
    import cv2

    ext = os.path.splitext(path)[1] or ".png"
    ok, buf = cv2.imencode(ext, img)
    if not ok:
        raise ImageError(f"{path}: cannot encode an image with extension {ext!r}")
    with open(path if os.path.splitext(path)[1] else path + ext, "wb") as f:
        f.write(buf.tobytes())
