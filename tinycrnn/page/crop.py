"""Cut a rotated 4-point line box out of a page as an upright, level crop.

A learned detector returns quadrilaterals that follow the text (skewed, in perspective); the
recogniser wants a level line. :func:`warp_crop` maps the box onto a rectangle whose sides are the
box's longest opposite edges, as RapidOCR's / PaddleOCR's ``get_rotate_crop_image`` does, and turns
crops at least 1.5 times taller than wide by 90 degrees (vertical lines, or a line whose box came
back with its corners starting on a short side).
"""
import numpy as np

#: Crops whose height / width is at least this are turned 90 degrees (PaddleOCR's rule).
TALL_RATIO = 1.5


def warp_crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """``box`` = float (4, 2) corners top-left, top-right, bottom-right, bottom-left -> uint8 crop."""
    return warp_crop_quad(image, box)[0]


def warp_crop_quad(image: np.ndarray, box: np.ndarray):
    """:func:`warp_crop` and the box's corners in the crop's own order (its top-left, top-right,
    bottom-right, bottom-left), so that places in the crop map back to the page after a 90-degree turn."""
    import cv2

    pts = np.asarray(box, np.float32).reshape(4, 2)
    w = int(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[2] - pts[3])))
    h = int(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2])))
    w, h = max(w, 1), max(h, 1)
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    M = cv2.getPerspectiveTransform(pts, dst)
    crop = cv2.warpPerspective(image, M, (w, h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    if crop.shape[0] >= TALL_RATIO * crop.shape[1]:
        # counter-clockwise: the crop's top-left was the box's top-right
        return np.rot90(crop).copy(), pts[[1, 2, 3, 0]]
    return crop, pts
