"""``--format text``: each page's lines, one text line each (what ``tinycrnn read`` always printed)."""
from .base import DocPage, Writer


class TextWriter(Writer):
    def add(self, page: DocPage) -> None:
        for line in page.result.lines:
            self.out.write(line.text + "\n")
        self.out.flush()
        self.pages += 1
