"""Output documents for ``tinycrnn read --format``: a registry of writers, one module per format.

A format is one :func:`register_format` line naming its writer class as ``"module:Class"``; the module
is imported only when the format is used, so optional libraries (a PDF writer's) stay out of
``import tinycrnn`` and out of the other formats. Writers stream: pages are added one at a time.
"""
import contextlib
import importlib
import sys
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional

from ..errors import MissingDependencyError, OutputFormatError
from .base import DocPage as DocPage
from .base import Writer as Writer


@dataclass(frozen=True)
class FormatInfo:
    """A registered format: ``target`` = ``"module:Class"`` of its :class:`Writer`, the file ``extension``,
    whether it writes bytes (``binary``), the pip extra its writer needs (``extra``) and a one-line ``help``."""

    name: str
    target: str
    extension: str
    binary: bool = False
    extra: Optional[str] = None
    help: str = ""


#: Every known format by name, in registration order (the order ``--format`` lists them).
FORMATS: Dict[str, FormatInfo] = {}


def register_format(name: str, target: str, extension: str, binary: bool = False, extra: Optional[str] = None,
                    help: str = "") -> FormatInfo:
    """Register an output format; a name registered twice is an error (two writers for one name)."""
    if name in FORMATS:
        raise OutputFormatError(f"output format {name!r} is already registered ({FORMATS[name].target})")
    if ":" not in target:
        raise OutputFormatError(f"output format {name!r}: target must be 'module:Class', got {target!r}")
    FORMATS[name] = info = FormatInfo(name, target, extension, binary, extra, help)
    return info


def format_names() -> List[str]:
    return list(FORMATS)


def get_writer(name: str) -> type:
    """The :class:`Writer` class of format ``name``.

    Raises:
        OutputFormatError: unknown name (the message lists the known ones).
        MissingDependencyError: the writer needs an extra that is not installed.
    """
    info = FORMATS.get(name)
    if info is None:
        raise OutputFormatError(f"unknown output format {name!r}; known: {', '.join(FORMATS)}")
    module, cls = info.target.split(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as exc:
        if info.extra is None or isinstance(exc, MissingDependencyError):
            raise
        raise MissingDependencyError(f"--format {name} needs the {info.extra} extra ({exc}): "
                                     f"pip install 'tinycrnn[{info.extra}]'") from None


@contextlib.contextmanager
def open_writer(name: str, path: Optional[str] = None, **options) -> Iterator[Writer]:
    """A :class:`Writer` of format ``name`` on the file ``path`` (stdout when None or ``-``); the
    document is finished (``close``) when the block ends, and the file closed.

    Raises:
        OutputFormatError: as :func:`get_writer`, or a binary format asked to write to a terminal.
    """
    info = FORMATS.get(name)
    cls = get_writer(name)
    if path in (None, "-"):
        out = sys.stdout.buffer if info.binary else sys.stdout
        if info.binary and sys.stdout.isatty():
            raise OutputFormatError(f"--format {name} writes binary data; give a file with -o OUT{info.extension}")
        writer = cls(out, **options)
        yield writer
        writer.close()
        out.flush()
        return
    with open(path, "wb" if info.binary else "w", **({} if info.binary else {"encoding": "utf-8", "newline": "\n"})) as f:
        writer = cls(f, **options)
        yield writer
        writer.close()


register_format("text", "tinycrnn.formats.plain:TextWriter", ".txt", help="the text, one line per line (default)")
register_format("json", "tinycrnn.formats.jsonl:JsonWriter", ".jsonl",
                help="one JSON object per image: lines with boxes, confidences and words")
register_format("tsv", "tinycrnn.formats.tsv:TsvWriter", ".tsv",
                help="Tesseract's TSV: level, page_num, block_num, par_num, line_num, word_num, box, conf, text")
register_format("hocr", "tinycrnn.formats.hocr:HocrWriter", ".hocr", help="hOCR (XHTML): pages, lines, words with bbox and x_wconf")
register_format("alto", "tinycrnn.formats.alto:AltoWriter", ".xml", help="ALTO v4 XML: pages, lines, words with WC and CC")
register_format("pdf", "tinycrnn.formats.pdf:PdfWriter", ".pdf", binary=True, extra="pdf",
                help="searchable PDF: page image + invisible text layer (needs the pdf extra)")
