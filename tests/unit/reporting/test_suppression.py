"""Complementary suppression: no suppressed count can be worked out from what is released."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting.projections.reports import SuppressedTable, suppress

Grid = list[list[int]]


def with_totals(counts: Grid) -> Grid:
    body = [[*row, sum(row)] for row in counts]
    return [*body, [sum(col) for col in zip(*body, strict=True)]]


def lines(n_rows: int, n_cols: int) -> list[list[tuple[int, int]]]:
    """Each row and each column of the grid with totals, totals included."""
    return [[(i, j) for j in range(n_cols + 1)] for i in range(n_rows + 1)] + [
        [(i, j) for i in range(n_rows + 1)] for j in range(n_cols + 1)
    ]


def rank(matrix: list[list[Fraction]]) -> int:
    m = [row[:] for row in matrix]
    r = 0
    for col in range(len(m[0]) if m else 0):
        pivot = next((i for i in range(r, len(m)) if m[i][col] != 0), None)
        if pivot is None:
            continue
        m[r], m[pivot] = m[pivot], m[r]
        for i in range(len(m)):
            if i != r and m[i][col] != 0:
                factor = m[i][col] / m[r][col]
                m[i] = [a - factor * b for a, b in zip(m[i], m[r], strict=True)]
        r += 1
    return r


def derivable(hidden: list[tuple[int, int]], n_rows: int, n_cols: int) -> list[tuple[int, int]]:
    """Hidden entries that the table's equations pin down: e_k lies in the row space of the
    equations' coefficients on the hidden entries. Each line says cells = total."""
    index = {entry: k for k, entry in enumerate(hidden)}
    equations = []
    for line in lines(n_rows, n_cols):
        *cells, total = line
        row = [Fraction(0)] * len(hidden)
        for entry in cells:
            if entry in index:
                row[index[entry]] += 1
        if total in index:
            row[index[total]] -= 1
        equations.append(row)
    base = rank(equations)
    found = []
    for entry, k in index.items():
        unit = [Fraction(int(i == k)) for i in range(len(hidden))]
        if rank([*equations, unit]) == base:
            found.append(entry)
    return found


def hidden_entries(table: SuppressedTable) -> list[tuple[int, int]]:
    return [
        (i, j) for i, row in enumerate(table.grid()) for j, value in enumerate(row) if value is None
    ]


tables = st.integers(1, 5).flatmap(
    lambda c: st.lists(st.lists(st.integers(0, 25), min_size=c, max_size=c), min_size=1, max_size=5)
)


@settings(max_examples=300, deadline=None)
@given(counts=tables, k=st.integers(1, 8))
def test_no_suppressed_entry_follows_from_the_released_ones(counts: Grid, k: int) -> None:
    n_rows, n_cols = len(counts), len(counts[0])
    table = suppress([f"r{i}" for i in range(n_rows)], [f"c{j}" for j in range(n_cols)], counts, k)
    truth = with_totals(counts)
    released = table.grid()
    hidden = hidden_entries(table)
    for i, row in enumerate(truth):
        for j, value in enumerate(row):
            assert released[i][j] in (None, value)
            assert value >= k or released[i][j] is None
    # Every row or column with a suppressed entry, its total included, has two or more.
    for line in lines(n_rows, n_cols):
        assert sum(entry in hidden for entry in line) != 1
    assert derivable(hidden, n_rows, n_cols) == []


def test_one_small_cell_takes_three_more_with_it() -> None:
    table = suppress(["a", "b"], ["x", "y", "z"], [[10, 3, 12], [8, 9, 7]], k=5)
    assert table.cells[0][1] is None
    assert sum(v is None for row in table.cells for v in row) == 4
    assert table.row_totals == (25, 24)
    assert table.column_totals == (18, 12, 19)
    assert table.total == 49


def test_a_small_total_is_suppressed_like_a_cell() -> None:
    table = suppress(["a", "b"], ["x", "y"], [[2, 2], [10, 10]], k=5)
    assert table.row_totals[0] is None
    assert derivable(hidden_entries(table), 2, 2) == []


def test_nothing_is_suppressed_when_every_count_reaches_k() -> None:
    table = suppress(["a"], ["x", "y"], [[5, 6]], k=5)
    assert table.grid() == [[5, 6, 11], [5, 6, 11]]


def test_an_empty_table_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        suppress([], ["x"], [], k=5)


def test_the_checker_catches_primary_suppression_alone() -> None:
    # Negative control: hiding only the small cell leaves it equal to total minus the rest.
    assert derivable([(0, 1)], 2, 3) == [(0, 1)]
    # Hiding a 2x2 block leaves a cycle: nothing is pinned down.
    assert derivable([(0, 1), (0, 2), (1, 1), (1, 2)], 2, 3) == []
    # Two cells in one row whose columns have no other hidden entry are both pinned.
    assert sorted(derivable([(0, 1), (0, 2)], 2, 3)) == [(0, 1), (0, 2)]
    # Two or more per line is not enough: a cell joining two hidden blocks is a bridge.
    blocks = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3)]
    assert derivable([*blocks, (1, 2)], 4, 4) == [(1, 2)]
