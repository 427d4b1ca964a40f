"""Batch OCR: many images, one single-threaded worker process per core, records as they complete.

``tinycrnn batch`` (:mod:`.cli`) and :func:`run` share one runner; :mod:`.ray` runs the same worker on a
Ray cluster (``ray`` extra, imported only when asked for). Importing this package loads no model code.
"""
from .inputs import IMAGE_EXTENSIONS as IMAGE_EXTENSIONS, InputError as InputError, expand_inputs as expand_inputs
from .records import comparable as comparable, read_records as read_records
from .runner import RunStats as RunStats, WorkerStartError as WorkerStartError, available_cores as available_cores, run as run

__all__ = ["IMAGE_EXTENSIONS", "InputError", "RunStats", "WorkerStartError", "available_cores", "comparable",
           "expand_inputs", "read_records", "run"]
