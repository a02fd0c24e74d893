"""What a new evaluation's timers add to those its contributor's row keeps."""

from __future__ import annotations

from datetime import date

from services.policy.domain.evaluation import Timer
from services.policy.domain.schedule import TimerKey
from services.policy.engine import scheduling

A = Timer(date(2026, 12, 1), "check_expiry", "nda")
B = Timer(date(2026, 12, 20), "contract_end", "k-1")
C = Timer(date(2027, 1, 5), "grant_expiry", "g-1")


def due(*timers: Timer) -> list[TimerKey]:
    """The timers as `schedule.timer_keys` gives them."""
    return [(t.due.toordinal(), t.kind, t.subject_ref) for t in timers]


def test_unknown_timers_are_all_inserted_and_then_kept() -> None:
    new, keys = scheduling(due(A, B), None)
    assert new == (A, B)
    assert scheduling(due(A, B), keys) == ((), keys)


def test_only_the_timers_not_kept_are_inserted() -> None:
    _, kept = scheduling(due(A, B), None)
    new, keys = scheduling(due(B, C), kept)
    assert new == (C,)
    assert keys == scheduling(due(B, C), None)[1]


def test_fewer_timers_insert_none() -> None:
    _, kept = scheduling(due(A, B, C), None)
    assert scheduling(due(A, C), kept)[0] == ()


def test_no_timers() -> None:
    assert scheduling(due(), None) == ((), "")
    assert scheduling(due(A), "")[0] == (A,)
