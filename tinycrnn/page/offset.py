"""The DB "unclip": grow a detected box by a polygon offset, without pyclipper.

PaddleOCR / RapidOCR grow each DB box with ``pyclipper.PyclipperOffset`` (round joins, closed
polygon) by ``distance = area * unclip_ratio / perimeter``. pyclipper (Clipper 6.4) works on
integers: it truncates the float corners toward zero, offsets each edge along its unit normal,
joins the edges with arcs whose vertices sit on the circle of radius ``distance`` around each
corner, and rounds every output vertex half away from zero. :func:`clipper_offset` does exactly
that for one convex polygon (what DB boxes are), so the boxes match the reference's to the pixel;
:func:`grow_rect` is the continuous answer (each side pushed out by ``distance``), which the
min-area rectangle of the rounded result approaches within about 1.5 px (truncation and rounding).
``tests/test_db_post.py`` compares both with pyclipper when it is installed.
"""
import math

import numpy as np

#: pyclipper's default ``ArcTolerance`` (the largest gap between an arc and its chords, in pixels).
ARC_TOLERANCE = 0.25


def unclip_distance(box: np.ndarray, ratio: float) -> float:
    """``area * ratio / perimeter`` of a polygon (shapely's ``Polygon.area`` and ``.length``)."""
    p = np.asarray(box, np.float64).reshape(-1, 2)
    q = np.roll(p, -1, axis=0)
    area = abs(float(np.sum(p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]))) / 2.0
    length = float(np.sum(np.hypot(q[:, 0] - p[:, 0], q[:, 1] - p[:, 1])))
    return area * ratio / length if length > 0 else 0.0


def _round(v: float) -> int:
    """Clipper's ``Round``: half away from zero."""
    return int(v - 0.5) if v < 0 else int(v + 0.5)


def clipper_offset(box: np.ndarray, delta: float, arc_tolerance: float = ARC_TOLERANCE) -> np.ndarray:
    """``PyclipperOffset`` with ``JT_ROUND`` / ``ET_CLOSEDPOLYGON`` on one convex polygon, grown by ``delta`` > 0.

    Returns int64 (M, 2) vertices (empty when the truncated polygon has fewer than 3 distinct points,
    as Clipper returns nothing then). Clipper's final union drops collinear vertices, and so does
    this; it also picks the starting vertex, which no caller here depends on.
    """
    pts = [(int(x), int(y)) for x, y in np.asarray(box, np.float64).reshape(-1, 2)]  # C cast: truncation
    src = []
    for p in pts:
        if not src or p != src[-1]:
            src.append(p)
    while len(src) > 1 and src[0] == src[-1]:
        src.pop()
    if len(src) < 3 or delta <= 0:
        return np.zeros((0, 2), np.int64)
    area = sum((src[j - 1][0] + src[j][0]) * (src[j - 1][1] - src[j][1]) for j in range(len(src)))
    if -area * 0.5 < 0:  # Clipper's Orientation() is false: the path is reversed first
        src.reverse()
    n = len(src)
    normals = []
    for j in range(n):
        dx, dy = src[(j + 1) % n][0] - src[j][0], src[(j + 1) % n][1] - src[j][1]
        f = math.hypot(dx, dy)
        normals.append((dy / f, -dx / f) if f else (0.0, 0.0))
    y = arc_tolerance if 0 < arc_tolerance <= delta * 0.25 else delta * 0.25
    steps = math.pi / math.acos(1 - y / delta)
    steps = min(steps, delta * math.pi)
    sin_s, cos_s = math.sin(2 * math.pi / steps), math.cos(2 * math.pi / steps)
    per_rad = steps / (2 * math.pi)
    out = []
    k = n - 1
    for j in range(n):
        (xj, yj), (nkx, nky), (njx, njy) = src[j], normals[k], normals[j]
        sin_a = nkx * njy - njx * nky
        if abs(sin_a * delta) < 1.0 and nkx * njx + nky * njy > 0:
            out.append((_round(xj + nkx * delta), _round(yj + nky * delta)))
            k = j
            continue
        sin_a = max(-1.0, min(1.0, sin_a))
        if sin_a * delta < 0:
            out += [(_round(xj + nkx * delta), _round(yj + nky * delta)), (xj, yj),
                    (_round(xj + njx * delta), _round(yj + njy * delta))]
        else:
            a = math.atan2(sin_a, nkx * njx + nky * njy)
            x, yy = nkx, nky
            for _ in range(max(_round(per_rad * abs(a)), 1)):
                out.append((_round(xj + x * delta), _round(yj + yy * delta)))
                x, yy = x * cos_s - sin_s * yy, x * sin_s + yy * cos_s
            out.append((_round(xj + njx * delta), _round(yj + njy * delta)))
        k = j
    return np.array(_strip_collinear(out), np.int64)


def _strip_collinear(pts):
    """Drop repeated and collinear vertices, as the union Clipper runs on its offset result does."""
    pts = list(pts)
    changed = True
    while changed and len(pts) >= 3:
        changed = False
        for i in range(len(pts)):
            a, b, c = pts[i - 1], pts[i], pts[(i + 1) % len(pts)]
            if (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]) == 0:
                del pts[i]
                changed = True
                break
    return pts


def grow_rect(box: np.ndarray, delta: float) -> np.ndarray:
    """A rectangle (4 corners in order) with each side pushed out by ``delta``: float64 (4, 2)."""
    p = np.asarray(box, np.float64).reshape(4, 2)
    c = p.mean(axis=0)
    u = p[1] - p[0]
    v = p[3] - p[0]
    lu, lv = np.hypot(*u), np.hypot(*v)
    u = u / lu if lu else np.array([1.0, 0.0])
    v = v / lv if lv else np.array([-u[1], u[0]])
    hu, hv = lu / 2 + delta, lv / 2 + delta
    return np.array([c - hu * u - hv * v, c + hu * u - hv * v, c + hu * u + hv * v, c - hu * u + hv * v])
