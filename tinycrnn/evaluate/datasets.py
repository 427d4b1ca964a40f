"""Evaluation datasets on disk: ``labels.tsv`` folders (``path<TAB>text``) and the page format
(``pages.tsv`` + ``annotations/*.json``), with the scoring protocol each one implies.

Reading only: no model runs here. Every problem is a one-line :class:`DatasetError`.
"""
import json
import os
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from ..errors import DatasetError


@dataclass(frozen=True)
class LineItem:
    """One line image and its label (``path`` absolute, ``rel`` as written in the TSV)."""

    path: str
    rel: str
    text: str


@dataclass(frozen=True)
class PageLine:
    box: Optional[Tuple[float, ...]]  # 8 numbers (4 points, clockwise from top-left) or None
    text: str


@dataclass(frozen=True)
class PageItem:
    path: str
    rel: str
    lines: Tuple[PageLine, ...]
    width: int = 0
    height: int = 0


@dataclass
class Dataset:
    """A dataset: its name, kind (``"lines"`` or ``"pages"``), items and default protocol."""

    name: str
    root: str
    kind: str
    items: list = field(default_factory=list)
    protocol: str = "word"
    protocol_reason: str = ""


def _read_text(path: str) -> str:
    if not os.path.exists(path):
        raise DatasetError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DatasetError(f"{path}: is a directory, expected a TSV file")
    with open(path, "rb") as f:
        data = f.read()
    if not data.strip():
        raise DatasetError(f"{path}: file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DatasetError(f"{path}: line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                           "save the file as UTF-8") from None
    return text[1:] if text.startswith("\ufeff") else text


def read_tsv(path: str, columns: int = 2) -> List[Tuple[int, List[str]]]:
    """Rows of a tab-separated file as ``(line_number, fields)``; the last field keeps any
    further tabs. Blank lines are skipped; a line with fewer fields or an empty first field is
    an error naming the line."""
    rows = []
    for no, raw in enumerate(_read_text(path).split("\n"), 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            continue
        parts = line.split("\t", columns - 1)
        if len(parts) < columns or not parts[0].strip():
            shown = line if len(line) <= 60 else line[:57] + "..."
            raise DatasetError(f"{path}: line {no}: expected {columns} tab-separated fields "
                               f"(path<TAB>text), got {shown!r}")
        rows.append((no, parts))
    if not rows:
        raise DatasetError(f"{path}: no items (only blank lines)")
    return rows


def _check_paths(items: Sequence, tsv: str) -> None:
    missing = [it for it in items if not os.path.isfile(it.path)]
    if missing:
        raise DatasetError(f"{tsv}: {len(missing)} of {len(items)} listed images do not exist "
                           f"(first: {missing[0].rel!r}, looked for {missing[0].path})")


def read_labels(tsv: str) -> List[LineItem]:
    """Read a ``path<TAB>text`` file; paths are relative to the file's folder. A header row
    ``path<TAB>...`` is skipped."""
    base = os.path.dirname(os.path.abspath(tsv))
    rows = read_tsv(tsv)
    if rows and rows[0][1][0].strip().lower() in ("path", "image", "file"):
        rows = rows[1:]
        if not rows:
            raise DatasetError(f"{tsv}: no items (only a header)")
    items = [LineItem(os.path.join(base, p), p, t) for _, (p, t) in rows]
    _check_paths(items, tsv)
    return items


def read_pages(tsv: str) -> List[PageItem]:
    """Read a ``pages.tsv`` (``image<TAB>annotation.json``) and its annotations (page format:
    ``{"lines": [{"box": [x1,y1,...,x4,y4] | null, "text": ...}], "width", "height"}``)."""
    base = os.path.dirname(os.path.abspath(tsv))
    pages = []
    for no, (img, ann) in read_tsv(tsv):
        ann_path = os.path.join(base, ann.strip())
        try:
            obj = json.loads(_read_text(ann_path))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{ann_path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("lines"), list):
            raise DatasetError(f"{ann_path}: expected an object with a 'lines' list (page format)")
        lines = []
        for k, ln in enumerate(obj["lines"]):
            if not isinstance(ln, dict) or not isinstance(ln.get("text"), str):
                raise DatasetError(f"{ann_path}: lines[{k}] needs a 'text' string")
            box = ln.get("box")
            if box is not None:
                if not isinstance(box, list) or len(box) != 8 or not all(isinstance(v, (int, float)) for v in box):
                    raise DatasetError(f"{ann_path}: lines[{k}].box must be 8 numbers (4 points) or null")
                box = tuple(float(v) for v in box)
            lines.append(PageLine(box, ln["text"]))
        pages.append(PageItem(os.path.join(base, img), img, tuple(lines), int(obj.get("width", 0) or 0),
                              int(obj.get("height", 0) or 0)))
    _check_paths(pages, tsv)
    return pages


def _readme_protocol(root: str) -> Tuple[Optional[str], str]:
    for name in ("README.md", "README.txt", "README"):
        p = os.path.join(root, name)
        if os.path.isfile(p):
            with open(p, encoding="utf-8", errors="replace") as f:
                t = f.read().lower()
            if "nfkc" in t:
                return "zh", f"{name} asks for NFKC"
            if "alphanumeric" in t or "[0-9a-z]" in t:
                return "word", f"{name} asks for alphanumeric-only matching"
            if "exact line" in t or "whitespace" in t or "runs of spaces" in t:
                return "line", f"{name} asks for exact lines"
    return None, ""


def _guess_from_labels(items: Sequence[LineItem]) -> Tuple[str, str]:
    texts = [it.text for it in items]
    if any("\u3000" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for t in texts for ch in t):
        return "zh", "labels contain CJK characters"
    spaced = sum(1 for t in texts if " " in t.strip())
    if spaced > 0.1 * len(texts):
        return "line", f"{spaced} of {len(texts)} labels contain spaces"
    return "word", "labels are single words"


def open_dataset(path: str) -> Dataset:
    """Open a dataset folder (with ``labels.tsv`` or ``pages.tsv``) or a labels TSV file.

    The default protocol comes from the folder's README (NFKC -> ``zh``, alphanumeric-only ->
    ``word``, exact lines -> ``line``), else from the labels (CJK -> ``zh``, more than 10 %
    with spaces -> ``line``, else ``word``); page datasets default to ``page``.

    Raises:
        DatasetError: missing folder or files, bad encoding, empty or malformed TSV,
            listed images that do not exist.
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.exists(path):
        raise DatasetError(f"{path}: no such dataset folder or file")
    if os.path.isdir(path):
        root = path
        labels, pages = os.path.join(root, "labels.tsv"), os.path.join(root, "pages.tsv")
        if os.path.isfile(labels):
            tsv, kind = labels, "lines"
        elif os.path.isfile(pages):
            tsv, kind = pages, "pages"
        else:
            raise DatasetError(f"{root}: no labels.tsv (path<TAB>text) or pages.tsv (image<TAB>annotation.json) found")
        name = os.path.basename(root)
    else:
        tsv, root = path, os.path.dirname(path)
        kind = "pages" if os.path.basename(path) == "pages.tsv" else "lines"
        stem = os.path.splitext(os.path.basename(path))[0]
        name = os.path.basename(root) + ("" if stem in ("labels", "pages") else f"/{stem}")
    if kind == "pages":
        return Dataset(name, root, kind, read_pages(tsv), "page", "page format (pages.tsv)")
    items = read_labels(tsv)
    protocol, reason = _readme_protocol(root)
    if protocol is None:
        protocol, reason = _guess_from_labels(items)
    return Dataset(name, root, kind, items, protocol, reason)


def crop_lines(page_image, page: PageItem) -> List[Tuple[object, str]]:
    """Cut a page's annotated lines out as images: the axis-aligned bounding rectangle of each
    box (``x0=min(x), x1=max(x)+1``, clipped; the ``sroie_lines`` rule), with its text.
    Lines with no box or an empty crop are skipped."""
    h, w = page_image.shape[:2]
    out = []
    for ln in page.lines:
        if ln.box is None:
            continue
        xs, ys = ln.box[0::2], ln.box[1::2]
        x0, y0 = max(0, int(min(xs))), max(0, int(min(ys)))
        x1, y1 = min(w, int(max(xs)) + 1), min(h, int(max(ys)) + 1)
        if x1 > x0 and y1 > y0:
            out.append((page_image[y0:y1, x0:x1], ln.text))
    return out
