"""A dependency-free progress bar for long runs: ``\\r`` updates on a terminal, silent otherwise."""
import sys
import time
from typing import Optional, TextIO


class Progress:
    """``with Progress(total, "iiit5k") as bar: bar.update(n)``.

    Draws only when ``stream`` is a TTY and ``enabled`` is true, at most 10 times a second,
    and clears its line when done so the result table starts on a clean line.
    """

    def __init__(self, total: int, label: str = "", stream: Optional[TextIO] = None, enabled: bool = True,
                 width: int = 24):
        self.total = max(int(total), 0)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(enabled and isatty is not None and isatty())
        self.width = width
        self.done = 0
        self._t0 = time.perf_counter()
        self._last = 0.0

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.enabled and (now - self._last >= 0.1 or self.done >= self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        frac = self.done / self.total if self.total else 1.0
        filled = int(frac * self.width)
        elapsed = now - self._t0
        rate = self.done / elapsed if elapsed > 0.5 else 0.0
        speed = f"{rate:6.1f}/s  eta {int((self.total - self.done) / rate) // 60}:" \
                f"{int((self.total - self.done) / rate) % 60:02d}" if rate > 0 else ""
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                          f"{self.done}/{self.total}  {speed} ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.enabled = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
