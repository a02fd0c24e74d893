"""A verified token is remembered by its text, never beyond its expiry."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from shared.http.auth import Authenticator
from shared.http.problems import Problem

KEY = "k" * 32


def test_a_remembered_token_still_expires() -> None:
    authenticator = Authenticator(KEY)
    token = authenticator.mint("ops", ["reports:read"], timedelta(seconds=1))

    first = authenticator.verify(f"Bearer {token}")
    assert authenticator.verify(f"Bearer {token}") is first  # remembered
    time.sleep(1.5)

    with pytest.raises(Problem) as refused:
        authenticator.verify(f"Bearer {token}")
    assert refused.value.status == 401


def test_a_token_signed_with_another_key_is_never_taken_from_memory() -> None:
    ours, theirs = Authenticator(KEY), Authenticator("x" * 32)
    forged = theirs.mint("intruder", ["policy:admin"])
    theirs.verify(f"Bearer {forged}")

    with pytest.raises(Problem):
        ours.verify(f"Bearer {forged}")
