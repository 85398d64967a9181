"""What parsing and validation report about a file: located, masked, tied to a rule id."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.ingest.rules import RULES


@dataclass
class Problem:
    rule_id: str
    file: str                 # the file name as given (basename)
    line: int | None = None   # 1-based physical line where the record starts (Parquet: row number)
    column: int | None = None  # 1-based field index
    column_name: str | None = None
    message: str = ""         # already masked: never holds personal data
    raw: str | None = None    # the masked raw record, for display
    byte: int | None = None   # byte offset for encoding errors
    sheet: str | None = None  # Excel sheet
    where: str | None = None  # a ready-made location (e.g. from a rejected file) that wins over the fields

    @property
    def action(self) -> str:
        return RULES[self.rule_id].action

    @property
    def location(self) -> str:
        """`file:line:column`, with `(byte N)` for encoding errors; Excel as `file:sheet!row`."""
        if self.where is not None:
            return self.where
        if self.sheet is not None:
            loc = f"{self.file}:{self.sheet}!{self.line}"
        else:
            loc = self.file
            if self.line is not None:
                loc += f":{self.line}"
                if self.column is not None:
                    loc += f":{self.column}"
        if self.byte is not None:
            loc += f" (byte {self.byte})"
        return loc

    def render(self) -> str:
        # Messages name their column themselves when it matters; the location gives its index.
        return f"{self.location}: [{self.rule_id}] {self.message}".rstrip()
