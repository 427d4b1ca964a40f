"""Turn the ``INPUT...`` of ``tinycrnn batch`` into one ordered list of image paths.

An input is a file, a folder (walked recursively, files with an image extension only), a glob
(``scans/**/*.jpg``), or a list file (``@list.txt``, or any ``.txt``: one path per line, ``#`` comments).
Nothing here opens an image: a bad file is the worker's business and becomes an error record.
"""
import glob
import os
from typing import Iterable, List, Sequence

from ..errors import TinyCRNNError

#: Extensions a folder walk or a glob over a folder picks up (lower case, compared case-insensitively).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".pbm", ".pgm", ".ppm", ".jp2")


class InputError(TinyCRNNError, ValueError):
    """An input names nothing: a missing list file, or no image at all among the inputs."""


def is_image_name(path: str) -> bool:
    return path.lower().endswith(IMAGE_EXTENSIONS)


def _walk(folder: str) -> List[str]:
    out = []
    for dirpath, dirnames, files in os.walk(folder, followlinks=False):
        dirnames.sort()
        out.extend(os.path.join(dirpath, f) for f in sorted(files) if is_image_name(f))
    return out


def _read_list(path: str) -> List[str]:
    if not os.path.isfile(path):
        raise InputError(f"{path}: list file not found")
    base = os.path.dirname(path)
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                # NOTE: relative entries are relative to the list file, so a list travels with its folder
                out.append(line if os.path.isabs(line) else os.path.normpath(os.path.join(base, line)))
    return out


def _expand_one(item: str) -> List[str]:
    if item.startswith("@"):
        return [p for entry in _read_list(item[1:]) for p in _expand_one(entry)]
    if os.path.isdir(item):
        return _walk(item)
    if item.lower().endswith(".txt") and os.path.isfile(item):
        return [p for entry in _read_list(item) for p in _expand_one(entry)]
    if glob.has_magic(item) and not os.path.exists(item):
        found = []
        for p in sorted(glob.glob(item, recursive=True)):
            if os.path.isdir(p):
                found.extend(_walk(p))
            elif is_image_name(p):
                found.append(p)
        return found
    # NOTE: a file named explicitly is always read, whatever its extension; a missing one gets an error record
    return [item]


def expand_inputs(items: Sequence[str]) -> List[str]:
    """Every image path the inputs name, in the order given (folders and globs sorted), duplicates dropped.

    Paths are kept as written (normalised, not made absolute): records carry them, and a rerun with the
    same inputs from the same folder recognises its earlier records by them.

    Raises:
        InputError: a list file is missing, or the inputs name no file at all.
    """
    seen, out = set(), []
    for item in items:
        for p in _expand_one(os.fspath(item)):
            p = os.path.normpath(p)
            if p not in seen:
                seen.add(p)
                out.append(p)
    if not out:
        raise InputError(f"no images found in {', '.join(map(str, items)) or 'the inputs'} "
                         f"(folders and globs take {', '.join(IMAGE_EXTENSIONS)})")
    return out


def unmatched(items: Iterable[str]) -> List[str]:
    """Globs among ``items`` that match no image (to warn about; a run goes on without them)."""
    return [i for i in items if glob.has_magic(i) and not os.path.exists(i) and not _expand_one(i)]
