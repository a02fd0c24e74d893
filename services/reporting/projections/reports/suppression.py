"""Small-cell suppression with complementary suppression for a two-way table of counts.

A table is released with its margins: row totals, column totals and the grand total. Bring
them into one (R+1) x (C+1) grid, the totals in the last row and column. Every row and every
column of that grid is then one equation ("the cells add up to the total"). Think of the grid
as a bipartite graph: row lines and column lines are nodes, and each entry is an edge between
its row and its column. A suppressed entry can be worked out from the released ones exactly
when its edge is a bridge of the graph of suppressed entries, i.e. lies on no cycle. Around a
cycle the entries can be shifted by +d, -d, +d, ... without changing any sum. Hence:

1. primary: every entry (cells and totals alike) below k is suppressed;
2. complementary: while some suppressed entry is a bridge, suppress the cheapest chain of
   entries that closes a cycle through it. That is the shortest path between its row and
   column that avoids it; already suppressed entries cost nothing, others cost their
   count, so as little information as possible is lost.

The result has no bridge, so every line holds no suppressed entry or at least two, and no
suppressed entry follows from the released ones by adding and subtracting.
Bounds from non-negativity are not considered: such a bound can narrow a suppressed cell's
range, but does not reveal its value.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

Entry = tuple[int, int]
"""(row, column) in the grid with totals; row R and column C hold the totals."""


@dataclass(frozen=True, slots=True)
class SuppressedTable:
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: tuple[tuple[int | None, ...], ...]
    """None: suppressed."""
    row_totals: tuple[int | None, ...]
    column_totals: tuple[int | None, ...]
    total: int | None
    k: int

    def grid(self) -> list[list[int | None]]:
        """The released values with totals in the last row and column."""
        body = [[*cells, total] for cells, total in zip(self.cells, self.row_totals, strict=True)]
        return [*body, [*self.column_totals, self.total]]


def suppress(
    rows: Sequence[str], columns: Sequence[str], counts: Sequence[Sequence[int]], k: int
) -> SuppressedTable:
    if k < 1:
        raise ValueError("k must be at least 1")
    if not rows or not columns:
        raise ValueError("a table needs at least one row and one column")
    if len(counts) != len(rows) or any(len(line) != len(columns) for line in counts):
        raise ValueError("counts must have one row per row label and one cell per column label")
    if any(n < 0 for line in counts for n in line):
        raise ValueError("counts cannot be negative")
    grid = _with_totals(counts)
    hidden = {(i, j) for i, line in enumerate(grid) for j, n in enumerate(line) if n < k}
    while (bridge := _first_bridge(hidden)) is not None:
        hidden |= _cheapest_cycle_closure(grid, hidden, bridge)
    released = [
        [None if (i, j) in hidden else n for j, n in enumerate(line)] for i, line in enumerate(grid)
    ]
    r, c = len(rows), len(columns)
    return SuppressedTable(
        rows=tuple(rows),
        columns=tuple(columns),
        cells=tuple(tuple(line[:c]) for line in released[:r]),
        row_totals=tuple(line[c] for line in released[:r]),
        column_totals=tuple(released[r][:c]),
        total=released[r][c],
        k=k,
    )


def _with_totals(counts: Sequence[Sequence[int]]) -> list[list[int]]:
    body = [[*line, sum(line)] for line in counts]
    return [*body, [sum(line[j] for line in body) for j in range(len(body[0]))]]


def _first_bridge(hidden: set[Entry]) -> Entry | None:
    for entry in sorted(hidden):
        if not _connected(hidden - {entry}, entry):
            return entry
    return None


def _connected(edges: set[Entry], entry: Entry) -> bool:
    """Whether row `entry[0]` reaches column `entry[1]` through `edges`."""
    start, goal = ("r", entry[0]), ("c", entry[1])
    seen, frontier = {start}, [start]
    while frontier:
        side, index = frontier.pop()
        for i, j in edges:
            if (side == "r" and i == index) or (side == "c" and j == index):
                other = ("c", j) if side == "r" else ("r", i)
                if other == goal:
                    return True
                if other not in seen:
                    seen.add(other)
                    frontier.append(other)
    return False


def _cheapest_cycle_closure(grid: list[list[int]], hidden: set[Entry], bridge: Entry) -> set[Entry]:
    """The entries of the cheapest path from the bridge's column to its row that does not
    use the bridge itself; with the bridge they form a cycle."""
    n_rows, n_cols = len(grid), len(grid[0])
    start, goal = ("c", bridge[1]), ("r", bridge[0])
    best: dict[tuple[str, int], int] = {start: 0}
    came_by: dict[tuple[str, int], Entry] = {}
    queue = [(0, start)]
    while queue:
        cost, node = heapq.heappop(queue)
        if node == goal:
            break
        if cost > best[node]:
            continue
        side, index = node
        steps = (
            [((index, j), ("c", j)) for j in range(n_cols)]
            if side == "r"
            else [((i, index), ("r", i)) for i in range(n_rows)]
        )
        for entry, other in steps:
            if entry == bridge:
                continue
            step = 0 if entry in hidden else grid[entry[0]][entry[1]]
            if cost + step < best.get(other, cost + step + 1):
                best[other] = cost + step
                came_by[other] = entry
                heapq.heappush(queue, (cost + step, other))
    path: set[Entry] = set()
    node = goal
    while node != start:
        entry = came_by[node]
        path.add(entry)
        node = ("r", entry[0]) if node[0] == "c" else ("c", entry[1])
    return path
