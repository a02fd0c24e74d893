"""DEI coverage and demographic releases: counts right, and nothing below k gets out."""

from __future__ import annotations

from collections import Counter

import pytest

from services.registry.domain.values import DEI_PROGRAMS
from services.reporting.projections.reports import (
    DemographicCount,
    dei_coverage,
    demographic_release,
)
from services.reporting.projections.reports.dei import FEW

from .naive import FOREVER, by_effect, kind, latest_policy, state_at
from .support import EVENTS, STREAMS, rows


def naive_coverage() -> tuple[Counter[str], Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    population: Counter[str] = Counter()
    extended: Counter[tuple[str, str]] = Counter()
    enrolled: Counter[tuple[str, str]] = Counter()
    for cid, stream in STREAMS.items():
        s = state_at(stream, FOREVER)
        if s is None or s["state"] == "offboarded":
            continue
        population[s["type"]] += 1
        decision = latest_policy(EVENTS, cid, "dei_programs_extended.v1")
        for program in decision["programs"] if decision else ():
            extended[s["type"], program] += 1
        programs: set[str] = set()
        for e in by_effect(stream):
            if kind(e) == "dei_program_enrolled":
                programs.add(e.data["program"])
            elif kind(e) == "dei_program_withdrawn":
                programs.discard(e.data["program"])
        for program in programs:
            enrolled[s["type"], program] += 1
    return population, extended, enrolled


@pytest.mark.parametrize("k", [1, 2, 5])
def test_programs_extended_and_enrolled_per_type(k: int) -> None:
    population, extended, enrolled = naive_coverage()
    found = dei_coverage(rows("dei_programs"), rows("contributor_facts"), k)
    assert len(found) == len(population) * len(DEI_PROGRAMS)
    for c in found:
        key = (c.contributor_type, c.program)
        assert c.contributors == population[c.contributor_type]
        assert c.extended == extended[key]
        small = enrolled[key] < k or population[c.contributor_type] - enrolled[key] < k
        assert c.enrolled == (None if small else enrolled[key])


def test_employees_coverage_in_detail() -> None:
    coverage = dei_coverage(rows("dei_programs"), rows("contributor_facts"), 1)
    found = {(c.contributor_type, c.program): c for c in coverage}
    # emp-1, emp-2 and the converted con-2 are current employees; mgr-3 has left.
    mentoring = found["employee", "mentoring"]
    assert (mentoring.contributors, mentoring.extended, mentoring.enrolled) == (3, 3, 2)
    training = found["employee", "inclusion_training"]
    assert (training.extended, training.enrolled) == (3, 2)
    # With k = 5 nothing about three people is released.
    assert {c.enrolled for c in dei_coverage(rows("dei_programs"), rows("contributor_facts"))} == {
        None
    }


FEED = [
    DemographicCount("2025-Q2", t, "gender", v, n)
    for t, v, n in [
        ("employee", "woman", 40),
        ("employee", "man", 38),
        ("employee", "non_binary", 3),
        ("contractor", "woman", 12),
        ("contractor", "man", 15),
        ("contractor", "non_binary", 6),
        ("gig_worker", "woman", 2),
        ("gig_worker", "man", 4),
    ]
] + [DemographicCount("2025-Q1", "employee", "gender", "woman", 1)]


def test_a_demographic_release_suppresses_small_cells_and_their_complements() -> None:
    release = demographic_release(FEED, "2025-Q2", "gender")
    table = release.table
    assert table is not None
    assert table.rows == ("contractor", "employee", "gig_worker")
    assert table.columns == ("man", "non_binary", "woman")
    cells = dict(zip(table.rows, table.cells, strict=True))
    assert cells["employee"][1] is None  # 3 employees
    assert cells["gig_worker"] == (None, None, None)  # 4, 0 and 2
    assert dict(zip(table.rows, table.row_totals, strict=True))["gig_worker"] == 6
    # Every released number is a true count of at least 5.
    released = [v for row in table.grid() for v in row if v is not None]
    assert min(released) >= 5
    # The suppressed non-binary employees cannot be had as total minus the rest.
    employee = cells["employee"]
    assert sum(v is None for v in employee) >= 2


def test_a_period_or_dimension_without_answers_releases_nothing() -> None:
    assert demographic_release(FEED, "2025-Q3", "gender").table is None
    assert demographic_release(FEED, "2025-Q2", "disability").table is None


def test_a_value_fewer_than_k_gave_is_released_without_its_label() -> None:
    given = {
        ("employee", "woman"): 9,
        ("employee", "man"): 8,
        ("contractor", "woman"): 6,
        ("contractor", "man"): 7,
        ("employee", "a self-description only one person gave"): 1,
        ("contractor", "another rare answer"): 2,
    }
    feed = [DemographicCount("2025-Q2", t, "gender", v, n) for (t, v), n in given.items()]

    table = demographic_release(feed, "2025-Q2", "gender").table

    assert table is not None
    assert table.columns == (FEW, "man", "woman")
    assert dict(zip(table.columns, table.column_totals, strict=True))[FEW] is None  # 3 < k
    assert all(row[0] is None for row in table.cells)
