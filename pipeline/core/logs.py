"""File logging under the home. Every record passes through the personal-data masker: logs never
hold row contents (DESIGN §6)."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path


class _MaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from pipeline.core.masking import mask_text

        record.msg = mask_text(record.getMessage())
        record.args = ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def configure_file_logging(path: Path, level: int = logging.INFO) -> None:
    root = logging.getLogger("opkpi")
    if any(getattr(h, "_opkpi", False) for h in root.handlers):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8", delay=True)
    handler._opkpi = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s pid=%(process)d %(message)s"))
    handler.addFilter(_MaskFilter())
    root.addHandler(handler)
    root.setLevel(level)
