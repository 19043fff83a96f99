"""Reporting periods and their labels (contract section 4)."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.core.period import Period


@pytest.mark.parametrize(
    ("period", "label", "days"),
    [
        (Period.year(2024), "2024", 366),
        (Period.year(2025), "2025", 365),
        (Period(dt.date(2025, 1, 1), dt.date(2025, 8, 31)), "2025-01-01_2025-08-31", 243),
        (Period(dt.date(2024, 11, 1), dt.date(2025, 10, 31)), "2024-11-01_2025-10-31", 365),
        (Period(dt.date(2025, 3, 3), dt.date(2025, 3, 3)), "2025-03-03_2025-03-03", 1),
    ],
)
def test_label_and_days(period: Period, label: str, days: int):
    assert period.label == label
    assert period.days == days


def test_end_before_start_is_refused():
    with pytest.raises(ValueError, match="före"):
        Period(dt.date(2025, 2, 1), dt.date(2025, 1, 31))
