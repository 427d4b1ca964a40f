"""What every output writer gets: :class:`DocPage` (one page of results) and the :class:`Writer` protocol."""
from dataclasses import dataclass, field
from typing import IO, Any, Dict, Optional

import numpy as np


@dataclass
class DocPage:
    """One page of an output document.

    Attributes:
        result: the :class:`~tinycrnn.page.pipeline.PageResult` (lines with words; ``width``/``height`` in pixels).
        source: the input file name (hOCR ``image``, ALTO ``fileName``), or a label such as ``in.pdf#3``.
        number: 1-based page number in the output document.
        dpi: the page's resolution when known (PDF input: the render DPI); None = unknown.
        image: the page pixels (uint8 BGR) when the caller has them; :meth:`pixels` loads ``source`` otherwise.
        record: the JSON object this page prints as with ``--format json`` (None: the page's ``to_dict``).
    """

    result: Any
    source: str = ""
    number: int = 1
    dpi: Optional[float] = None
    image: Optional[np.ndarray] = None
    record: Optional[Dict[str, Any]] = field(default=None, repr=False)

    def pixels(self) -> np.ndarray:
        """The page image, uint8 BGR: ``image`` if given, else ``source`` loaded as the page pipeline loads it."""
        if self.image is not None:
            return self.image
        from ..page.pipeline import load_page

        img, scale = load_page(self.source)
        if scale != 1.0:
            import cv2

            img = cv2.resize(img, (self.result.width, self.result.height), interpolation=cv2.INTER_LINEAR)
        return img


class Writer:
    """A streaming document writer: ``add`` pages one by one, then ``close`` to finish the document.

    Subclasses set ``binary`` (True: ``out`` is a bytes stream) and implement ``add``; ``close`` writes
    the document's end and never closes ``out`` (the caller owns it).
    """

    binary = False

    def __init__(self, out: IO, **options: Any):
        self.out = out
        self.options = options
        self.pages = 0

    def add(self, page: DocPage) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass
