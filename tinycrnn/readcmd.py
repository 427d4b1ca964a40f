"""``tinycrnn read``: input files -> pages read (page pipeline, or one line each with ``--line``) -> the
output format chosen with ``--format`` (:mod:`tinycrnn.formats`), on stdout or ``-o FILE``.

Kept out of ``cli.py`` so new inputs (PDF pages: :func:`page_inputs`) and new formats (one registry line)
do not touch the command table. An input that fails prints one line on stderr, the others are still
read, and the exit status is 2.
"""
import os
import sys
import time
from typing import Iterator, Optional, Tuple

from .errors import TinyCRNNError
from .formats import DocPage, FORMATS, open_writer


def add_output_options(p) -> None:
    """``--format`` and ``-o`` on the ``read`` parser."""
    names = list(FORMATS)
    p.add_argument("--format", choices=names, default=None, metavar="FORMAT",
                   help="output format: " + "; ".join(f"{n}: {FORMATS[n].help}" for n in names) + " (default: text)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the output document here (default: stdout)")


def page_inputs(args) -> Iterator[Tuple[str, object, Optional[float]]]:
    """``(source name, image source, dpi or None)`` for every page the read covers, in order: PDFs become their
    rendered pages (:mod:`tinycrnn.pdf.inputs`); an input that cannot be read comes as its error."""
    from .pdf.inputs import page_inputs as pages_of

    yield from pages_of(args.images, args.pages, args.force_ocr, args.dpi, args.password)


def output_format(args) -> str:
    fmt = args.format or ("json" if args.json else "text")
    if args.json and fmt != "json":
        raise TinyCRNNError(f"--json and --format {fmt} disagree; give one of them")
    return fmt


def cmd_read(args, cold_read_backend, decode_options) -> int:
    """Run ``tinycrnn read``; ``cold_read_backend(args, model_paths)`` and ``decode_options(args)`` come from cli."""
    fmt = output_format(args)
    status = 0
    with open_writer(fmt, args.output, title=", ".join(os.path.basename(p) for p in args.images[:3])) as writer:
        pages = _line_pages(args, cold_read_backend, decode_options) if args.line else \
            _page_pages(args, cold_read_backend, decode_options)
        for page in pages:
            if page is None:
                status = 2
                continue
            page.number = writer.pages + 1
            writer.add(page)
    return status


def _line_pages(args, cold_read_backend, decode_options):
    from .engine import resolve_model_path
    from .page.words import line_page
    from .recognizer import Recognizer

    path = resolve_model_path(args.model or "english_g2")
    rec = Recognizer(path, backend=cold_read_backend(args, [path]), **decode_options(args))
    for source, src, dpi in page_inputs(args):
        t0 = time.perf_counter()
        try:
            if isinstance(src, Exception):
                raise src
            img = rec.load(src)
            probs = rec.probabilities([img])[0]
            res = rec.decode(probs)
            ms = (time.perf_counter() - t0) * 1000
            page = line_page(rec, img, res, probs.shape[0], ms)
        except TinyCRNNError as exc:
            print(f"tinycrnn: {exc}", file=sys.stderr)
            yield None
            continue
        words = [w.to_dict() for ln in page.lines for w in ln.words]
        record = {"image": source, "text": res.text, "confidence": round(res.confidence, 6),
                  "char_confidences": [round(c, 6) for c in res.char_confidences], "words": words,
                  "total_time_ms": round(ms, 2)}
        yield DocPage(page, source, dpi=dpi, record=record)


def _page_pages(args, cold_read_backend, decode_options):
    from .engine import resolve_model_path
    from .page.draw import draw_page, save_image
    from .page.defaults import default_page_model
    from .page.pipeline import OCR
    from .recognizer import Recognizer

    # the models the compiled kernels would use, whichever backend reads them
    page_model = resolve_model_path(args.model) if args.model else default_page_model(args.backend or "numba")
    case_model = None if args.no_case else OCR.auto_case_model(page_model, args.backend or "numba")
    backend = cold_read_backend(args, [p for p in (page_model, case_model) if p])
    rec = Recognizer(page_model, backend=backend, **decode_options(args))
    ocr = OCR(model=rec, min_confidence=args.min_confidence, backend=backend, case_model=case_model,
              detector=args.detector)
    many = len(args.images) > 1
    for k, (source, src, dpi) in enumerate(page_inputs(args)):
        try:
            if isinstance(src, Exception):
                raise src
            page = ocr.read(src)
            if args.draw:
                out = args.draw
                if many:
                    stem, ext = os.path.splitext(args.draw)
                    out = f"{stem}-{k + 1}{ext or '.png'}"
                save_image(out, draw_page(src, page))
        except TinyCRNNError as exc:
            print(f"tinycrnn: {exc}", file=sys.stderr)
            yield None
            continue
        yield DocPage(page, source, dpi=dpi, image=src if not isinstance(src, (str, bytes, os.PathLike)) else None)

