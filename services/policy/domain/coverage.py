"""Whether a contributor's contracts cover a day, read as one legal basis over time.

Contracts that overlap or follow each other without a gap form one run: a renewal signed
as a new contract does not end access. The run that matters is the one covering the day,
else the last one that ended, else the next one to start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from services.policy.domain.days import shift
from services.policy.domain.view import ContractTerm, PolicyView

CoverageState = Literal["none", "covered", "ended", "not_started"]


@dataclass(frozen=True, slots=True)
class Coverage:
    state: CoverageState
    start: date | None = None
    end: date | None = None
    """Last day of the run; None: open-ended (or no contract at all)."""
    contract_id: str | None = None
    """The contract whose end ends the run."""
    next_start: date | None = None
    """First day of the next run starting after the day asked about, if one is known."""
    next_contract_id: str | None = None

    def ends_on_or_before(self, day: date) -> bool:
        """Access resting on this basis must be revoked on `day`: the run has ended, or
        today is its last day (the handbook: contract end revokes access on that day)."""
        if self.state == "ended":
            return True
        return self.state == "covered" and self.end is not None and self.end <= day


@dataclass(frozen=True, slots=True)
class _Run:
    start: date
    end: date | None
    contract_id: str
    """The contract that ends the run."""
    first_id: str
    """The contract that starts it."""


def _runs(contracts: list[ContractTerm]) -> list[_Run]:
    runs: list[_Run] = []
    for c in sorted(contracts, key=lambda c: (c.start, c.end or date.max, c.contract_id)):
        last = runs[-1] if runs else None
        if last is not None and (last.end is None or c.start <= shift(last.end, 1)):
            if last.end is not None and (c.end is None or c.end > last.end):
                runs[-1] = _Run(last.start, c.end, c.contract_id, last.first_id)
            continue
        runs.append(_Run(c.start, c.end, c.contract_id, c.contract_id))
    return runs


def coverage(view: PolicyView, day: date) -> Coverage:
    runs = _runs(list(view.contracts.values()))
    upcoming = next((r for r in runs if r.start > day), None)
    later = (upcoming.start, upcoming.first_id) if upcoming is not None else (None, None)
    for run in runs:
        if run.start <= day and (run.end is None or day <= run.end):
            return Coverage("covered", run.start, run.end, run.contract_id, *later)
    ended = [r for r in runs if r.end is not None and r.end < day]
    if ended:
        last = ended[-1]
        return Coverage("ended", last.start, last.end, last.contract_id, *later)
    if upcoming is not None:
        return Coverage("not_started", upcoming.start, upcoming.end, upcoming.contract_id, *later)
    return Coverage("none")
