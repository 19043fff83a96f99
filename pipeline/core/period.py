"""Reporting periods: a calendar year, a tertial, a project year or any inclusive range."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Period:
    """An inclusive date range [start, end].

    >>> Period.year(2024).label
    '2024'
    >>> Period(dt.date(2024, 1, 1), dt.date(2024, 8, 31)).label
    '2024-01-01_2024-08-31'
    >>> Period.year(2024).days
    366
    """

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"Perioden slutar ({self.end}) före den börjar ({self.start})")

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(dt.date(year, 1, 1), dt.date(year, 12, 31))

    @property
    def is_calendar_year(self) -> bool:
        return (
            self.start.year == self.end.year
            and (self.start.month, self.start.day) == (1, 1)
            and (self.end.month, self.end.day) == (12, 31)
        )

    @property
    def label(self) -> str:
        """`YYYY` for a calendar year, else `FROM_TO` (contract section 4)."""
        if self.is_calendar_year:
            return str(self.start.year)
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def swedish(self) -> str:
        """The period as written in the report."""
        if self.is_calendar_year:
            return f"år {self.start.year}"
        return f"{self.start.isoformat()} – {self.end.isoformat()}"
