"""The registry's pure aggregation for the demographic feed: quarters, which are closed, and
the counts per (type, dimension, value)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.registry.api.dei_aggregates import Quarter, closed_quarters, count_answers


def test_a_quarter_parses_prints_and_bounds_itself() -> None:
    q4 = Quarter.parse("2025-Q4")
    assert str(q4) == "2025-Q4"
    assert q4.start == datetime(2025, 10, 1, tzinfo=UTC)
    assert q4.end == datetime(2026, 1, 1, tzinfo=UTC)
    assert q4.next() == Quarter(2026, 1)
    assert Quarter.containing(datetime(2025, 3, 31, 23, 59, tzinfo=UTC)) == Quarter(2025, 1)
    assert Quarter.containing(datetime(2025, 4, 1, tzinfo=UTC)) == Quarter(2025, 2)


@pytest.mark.parametrize(
    "text", ["2025-Q0", "2025-Q5", "25-Q1", "2025Q1", "2025-q1", "0000-Q1", "9999-Q4", ""]
)
def test_anything_but_a_quarter_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a quarter"):
        Quarter.parse(text)


def test_closed_quarters_run_from_the_first_answer_to_the_last_ended_quarter() -> None:
    first = datetime(2024, 11, 5, tzinfo=UTC)
    assert closed_quarters(None, datetime(2026, 1, 1, tzinfo=UTC)) == []
    assert closed_quarters(first, datetime(2024, 12, 31, tzinfo=UTC)) == []  # still running
    assert [str(q) for q in closed_quarters(first, datetime(2025, 4, 1, tzinfo=UTC))] == [
        "2024-Q4",
        "2025-Q1",
    ]


def test_counts_are_per_type_dimension_and_value_and_skip_unanswered_dimensions() -> None:
    members = [
        ("employee", {"gender": "woman", "disability": "no"}),
        ("employee", {"gender": "woman"}),
        ("contractor", {"gender": "woman"}),
        ("employee", {}),
    ]
    assert count_answers(members) == [
        {"contributor_type": "contractor", "dimension": "gender", "value": "woman", "count": 1},
        {"contributor_type": "employee", "dimension": "disability", "value": "no", "count": 1},
        {"contributor_type": "employee", "dimension": "gender", "value": "woman", "count": 2},
    ]
