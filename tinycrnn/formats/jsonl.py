"""``--format json``: one JSON object per page on its own line (JSON Lines), as ``--json`` printed.

Page mode: ``{"image", "success", "text": [{"text", "confidence", "box", "words"}], "total_time_ms",
"timings_ms"}``; line mode: the object the caller put in ``DocPage.record``.
"""
import json

from .base import DocPage, Writer


class JsonWriter(Writer):
    def add(self, page: DocPage) -> None:
        rec = page.record if page.record is not None else {"image": page.source, "success": True,
                                                             **page.result.to_dict()}
        self.out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self.out.flush()
        self.pages += 1
