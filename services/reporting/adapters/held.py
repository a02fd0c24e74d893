"""A rebuild's contributors, held in memory while their facts are folded and written once.

A live consumer derives and writes every contributor a batch touches, so a contributor met
in ten batches is derived and written ten times, their whole history with them. A rebuild
is the only writer of its tables and nobody reads them before the swap, so it folds facts
here and derives and writes each contributor once: when they have been touched least
recently of more than `limit` held contributors (memory stays bounded, whatever the number
of contributors on the topics), or at the end, before the swap.

What is held plus what the tables hold is always what the stored offsets have applied, or
more: facts are a set, so an event held by a batch whose transaction then failed is a
duplicate when it is read again. Contributors leave only once the transaction that wrote
them committed. One met again after they were written is loaded from the tables, and their
next write replaces all their rows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import islice

from services.reporting.projections import ContributorFacts
from services.reporting.projections.derive import RowSet, derive_rows


@dataclass(frozen=True, slots=True)
class Write:
    """All rows of some held contributors."""

    contributors: list[str]
    rows: RowSet
    replacing: list[str]
    """Those of them whose rows the tables already hold: their rows are deleted first."""


@dataclass(frozen=True, slots=True)
class _Held:
    facts: ContributorFacts
    written: bool
    """The tables hold rows of theirs (written before they were met again)."""


class HeldFacts:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: OrderedDict[str, _Held] = OrderedDict()
        """Least recently touched first."""

    def __len__(self) -> int:
        return len(self._held)

    def facts(self, contributor_ids: Iterable[str]) -> dict[str, ContributorFacts]:
        """The held facts of those of these contributors that are held."""
        return {cid: h.facts for cid in contributor_ids if (h := self._held.get(cid)) is not None}

    def hold(self, changed: Mapping[str, ContributorFacts], stored: Iterable[str]) -> None:
        """Fold results: `changed` the new facts; `stored` the contributors whose facts were
        loaded from the tables for this batch."""
        loaded = set(stored)
        for cid, facts in changed.items():
            known = self._held.pop(cid, None)
            self._held[cid] = _Held(facts, known.written if known else cid in loaded)

    def overflow(self) -> list[str]:
        """The least recently touched contributors beyond the limit."""
        return list(islice(self._held, max(len(self._held) - self.limit, 0)))

    def everyone(self) -> list[str]:
        return list(self._held)

    def write(self, contributor_ids: Iterable[str]) -> Write:
        """Their rows, to be written: deriving them is most of what a write costs."""
        contributors: list[str] = []
        rows: RowSet = {}
        replacing: list[str] = []
        for cid in contributor_ids:
            held = self._held[cid]
            contributors.append(cid)
            rows |= derive_rows(held.facts)
            if held.written:
                replacing.append(cid)
        return Write(contributors, rows, replacing)

    def written(self, write: Write) -> None:
        """`write` committed: its contributors leave."""
        for cid in write.contributors:
            del self._held[cid]
