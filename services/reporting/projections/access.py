"""When each grant was really held, and which stretches of that were exposures.

Grants are paired with their revocations in stream order, the order in which the registry
decided them (it only revokes a grant that is active at that moment), so a back-dated
revocation can never be matched to the wrong grant.

A grant is held from when it took effect. It stops being held when its revocation took
effect, unless the revocation was back-dated, i.e. recorded more than
`RECORDING_TOLERANCE` after its effective time. Then it stops when it was recorded. The
revocations the registry emits for a back-dated offboarding carry the offboarding's
effective time, but the access was really removed only when the offboarding became known.
Counting from the recorded time is what turns "offboarded ten days ago, revoked today"
into ten days of access after offboarding. A revocation only reported late would also be
counted from when it was recorded, so that measure errs towards more exposure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from services.registry.domain.events import AccessGranted, AccessRevoked
from services.registry.domain.state import Contract
from services.reporting.projections.facts import RegistryFact

RECORDING_TOLERANCE = timedelta(minutes=5)
"""Effective and recorded times this close are the same instant (the registry also accepts
effective times up to five minutes ahead of its clock)."""

ExposureKind = Literal["after_offboarding", "after_contract_end"]
Span = tuple[datetime, datetime | None]
"""Half-open [from, to); to None: open-ended."""


@dataclass(frozen=True, slots=True)
class GrantWindow:
    grant_id: str
    granted_sequence: int
    resource: str
    classification: str
    expires_at: datetime | None
    held_from: datetime
    held_until: datetime | None
    revocation_reason: str | None


@dataclass(frozen=True, slots=True)
class Exposure:
    window: GrantWindow
    kind: ExposureKind
    exposed_from: datetime
    exposed_until: datetime | None


def grant_windows(facts: Sequence[RegistryFact]) -> list[GrantWindow]:
    """`facts` in stream order."""
    windows: list[GrantWindow] = []
    held: dict[str, int] = {}
    for fact in facts:
        payload = fact.payload
        if isinstance(payload, AccessGranted):
            if payload.grant_id in held:
                # The registry refuses this; tolerate it as a replacement of the grant.
                _close(windows, held.pop(payload.grant_id), fact.effective_time, None)
            held[payload.grant_id] = len(windows)
            windows.append(
                GrantWindow(
                    payload.grant_id,
                    fact.sequence,
                    payload.resource,
                    payload.classification,
                    payload.expires_at,
                    fact.effective_time,
                    None,
                    None,
                )
            )
        elif isinstance(payload, AccessRevoked) and payload.grant_id in held:
            _close(windows, held.pop(payload.grant_id), _ended_at(fact), payload.reason)
    return windows


def exposures(
    windows: Iterable[GrantWindow], offboarded: Sequence[Span], contracts: Iterable[Contract]
) -> list[Exposure]:
    uncovered = uncovered_by_contracts(contracts)
    found: list[Exposure] = []
    for window in windows:
        spans: tuple[tuple[ExposureKind, Sequence[Span]], ...] = (
            ("after_offboarding", offboarded),
            ("after_contract_end", uncovered),
        )
        for kind, kind_spans in spans:
            for span in kind_spans:
                common = overlap((window.held_from, window.held_until), span)
                if common is not None:
                    found.append(Exposure(window, kind, *common))
    return found


def uncovered_by_contracts(contracts: Iterable[Contract]) -> list[Span]:
    """The stretches after the first contract started that no contract covers; a contract
    covers its start day to its end day inclusive (UTC days)."""
    # By start alone: contracts starting the same day may be open-ended (None) or not, and
    # which of them comes first does not change the stretches covered.
    spans = sorted(
        (
            (midnight(c.start), None if c.end is None else midnight(c.end + timedelta(days=1)))
            for c in contracts
        ),
        key=lambda span: span[0],
    )
    if not spans:
        return []
    gaps: list[Span] = []
    covered_to = spans[0][1]
    for start, end in spans[1:]:
        if covered_to is None:
            return gaps
        if start > covered_to:
            gaps.append((covered_to, start))
        covered_to = None if end is None else max(covered_to, end)
    if covered_to is not None:
        gaps.append((covered_to, None))
    return gaps


def overlap(a: Span, b: Span) -> Span | None:
    start = max(a[0], b[0])
    ends = [end for end in (a[1], b[1]) if end is not None]
    end = min(ends) if ends else None
    if end is not None and end <= start:
        return None
    return (start, end)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _ended_at(revocation: RegistryFact) -> datetime:
    if revocation.recorded_time - revocation.effective_time > RECORDING_TOLERANCE:
        return revocation.recorded_time
    return revocation.effective_time


def _close(windows: list[GrantWindow], index: int, at: datetime, reason: str | None) -> None:
    window = windows[index]
    windows[index] = replace(window, held_until=max(at, window.held_from), revocation_reason=reason)
