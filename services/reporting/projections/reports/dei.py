"""DEI coverage: which programs extend to whom and who enrolled, and the demographic
aggregates, released only in forms from which no one can be singled out.

Rules (docs/reporting.md explains them):
- every released count is at least k (default 5), including zeros: "none of the 3
  contractors in X" says something about each of them;
- the demographic table of one dimension is released whole, over the fixed partition
  contributor type x value, with its margins, and with complementary suppression, so no
  suppressed cell follows from released cells and margins;
- no other cut exists: no filter parameter, no business unit, no ad-hoc dates; a table is
  computed per closed period of the aggregate feed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from services.registry.domain.values import DEI_PROGRAMS
from services.reporting.projections.reports.common import Row
from services.reporting.projections.reports.compliance import current_contributors
from services.reporting.projections.reports.suppression import SuppressedTable, suppress

K_DEFAULT = 5


@dataclass(frozen=True, slots=True)
class ProgramCoverage:
    contributor_type: str
    program: str
    contributors: int
    """Current contributors of the type (the composition report releases this too)."""
    extended: int
    """How many of them the policy extends the program to."""
    enrolled: int | None
    """How many are enrolled; None (suppressed) unless both the enrolled and the others
    number at least k, because `contributors` is released and gives the others away."""


@dataclass(frozen=True, slots=True)
class DemographicCount:
    """One cell of the aggregate-only self-identification feed. Individual answers never
    reach reporting: the registry's vault aggregates them per closed period."""

    period: str
    contributor_type: str
    dimension: str
    value: str
    count: int


@dataclass(frozen=True, slots=True)
class DemographicRelease:
    period: str
    dimension: str
    table: SuppressedTable | None
    """Rows are contributor types, columns values; None when nobody answered."""


def dei_coverage(
    dei_programs: Iterable[Row], facts: Iterable[Row], k: int = K_DEFAULT
) -> list[ProgramCoverage]:
    """Per current type and program, over current contributors."""
    population = Counter(f["contributor_type"] for f in current_contributors(facts))
    current_ids = {f["contributor_id"] for f in current_contributors(facts)}
    extended: Counter[tuple[str, str]] = Counter()
    enrolled: Counter[tuple[str, str]] = Counter()
    for row in dei_programs:
        if row["contributor_id"] in current_ids:
            key = (row["contributor_type"], row["program"])
            extended[key] += row["extended"]
            enrolled[key] += row["enrolled"]
    return [
        ProgramCoverage(
            t,
            program,
            population[t],
            extended[t, program],
            _released(enrolled[t, program], population[t], k),
        )
        for t in sorted(population)
        for program in DEI_PROGRAMS
    ]


FEW = "(values fewer than k gave)"
"""The column of the answers that fewer than k people gave, labels withheld."""


def demographic_release(
    counts: Iterable[DemographicCount], period: str, dimension: str, k: int = K_DEFAULT
) -> DemographicRelease:
    given = [c for c in counts if c.period == period and c.dimension == dimension]
    totals: Counter[str] = Counter()
    for c in given:
        totals[c.value] += c.count
    # Answers are free text: a value fewer than k people gave would name itself as a column
    # label even with every cell suppressed, so such values are released only as one column.
    cells: Counter[tuple[str, str]] = Counter()
    for c in given:
        cells[c.contributor_type, c.value if totals[c.value] >= k else FEW] += c.count
    types = sorted({t for t, _ in cells})
    values = sorted({v for _, v in cells})
    if not types:
        return DemographicRelease(period, dimension, None)
    table = suppress(types, values, [[cells[t, v] for v in values] for t in types], k)
    return DemographicRelease(period, dimension, table)


def _released(enrolled: int, population: int, k: int) -> int | None:
    return enrolled if enrolled >= k and population - enrolled >= k else None
