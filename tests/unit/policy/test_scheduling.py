"""What a new evaluation's timers add to those its contributor's row keeps."""

from __future__ import annotations

from datetime import date

from services.policy.domain.evaluation import Timer
from services.policy.engine import scheduling

A = Timer(date(2026, 12, 1), "check_expiry", "nda")
B = Timer(date(2026, 12, 20), "contract_end", "k-1")
C = Timer(date(2027, 1, 5), "grant_expiry", "g-1")


def test_unknown_timers_are_all_inserted_and_then_kept() -> None:
    new, keys = scheduling((A, B), None)
    assert new == (A, B)
    assert scheduling((A, B), keys) == ((), keys)


def test_only_the_timers_not_kept_are_inserted() -> None:
    _, kept = scheduling((A, B), None)
    new, keys = scheduling((B, C), kept)
    assert new == (C,)
    assert keys == scheduling((B, C), None)[1]


def test_fewer_timers_insert_none() -> None:
    _, kept = scheduling((A, B, C), None)
    assert scheduling((A, C), kept)[0] == ()


def test_no_timers() -> None:
    assert scheduling((), None) == ((), "")
    assert scheduling((A,), "")[0] == (A,)
