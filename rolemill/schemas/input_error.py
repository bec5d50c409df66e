"""Errors in what people give rolemill: recipes, seed files, character cards.

Every one names the file, the line (when known) and the field, says what is wrong
and what to do, so the CLI can print it as one clear line and exit non-zero.
"""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input, found before any work is done or published."""

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ):
        self.path = str(path)
        self.problem = problem
        self.line = line
        self.field = field
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        where = self.path + (f":{self.line}" if self.line else "")
        what = f"field '{self.field}': {self.problem}" if self.field else self.problem
        return f"{where}: {what}" + (f" ({self.hint})" if self.hint else "")
