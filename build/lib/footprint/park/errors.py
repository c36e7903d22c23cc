"""Located problems in park data: every message names file, row, column, value and expectation."""

from __future__ import annotations

from dataclasses import dataclass

MAX_LISTED = 1_000  # problems kept and listed; the rest are counted (a broken file can have 800,000)
VALUE_CHARS = 120  # of a value quoted in a message


@dataclass(frozen=True)
class Problem:
    file: str
    row: int | None
    column: str | None
    value: object
    expected: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column}"
        got = "" if self.value is None else f" got {_quoted(self.value)}:"
        return f"{where}:{got} {self.expected}"


def _quoted(value: object) -> str:
    """The value as repr (control and invisible characters escaped), cut short when long."""
    if isinstance(value, str) and len(value) > VALUE_CHARS:
        return f"{value[:VALUE_CHARS]!r}… ({len(value):,} characters)"
    return repr(value)


class ParkDataError(Exception):
    """A park that cannot be computed; carries every problem found (the first MAX_LISTED, and the count)."""

    def __init__(self, problems: list[Problem], count: int | None = None):
        self.problems = problems[:MAX_LISTED]
        self.count = max(count or 0, len(problems))
        more = self.count - len(self.problems)
        super().__init__("\n".join([*(str(p) for p in self.problems), *([f"… and {more:,} more"] if more else [])]))
