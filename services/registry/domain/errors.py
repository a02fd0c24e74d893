"""Why `decide` refuses a command. Each error has a stable `code` that callers may map to
an HTTP problem type, and a human `message`."""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ContributorNotFound(DomainError):
    code: ClassVar[str] = "contributor_not_found"

    def __init__(self, contributor_id: str) -> None:
        super().__init__(f"no contributor {contributor_id!r} is registered")
        self.contributor_id = contributor_id


class AlreadyRegistered(DomainError):
    code: ClassVar[str] = "already_registered"

    def __init__(self, contributor_id: str) -> None:
        super().__init__(f"contributor {contributor_id!r} is already registered")
        self.contributor_id = contributor_id


class UnknownContributorType(DomainError):
    code: ClassVar[str] = "unknown_contributor_type"

    def __init__(self, contributor_type: str) -> None:
        super().__init__(f"{contributor_type!r} is not a contributor type of this organisation")
        self.contributor_type = contributor_type


class IllegalTransition(DomainError):
    """A lifecycle command that the contributor's current lifecycle state does not allow."""

    code: ClassVar[str] = "illegal_transition"

    def __init__(self, from_state: str, command: str) -> None:
        super().__init__(f"{command} is not allowed while the contributor is {from_state}")
        self.from_state = from_state
        self.command = command


class InvalidCommand(DomainError):
    """A command that contradicts what is known of the contributor. `reason` is a stable
    sub-code, e.g. `contract_ends_before_start`."""

    code: ClassVar[str] = "invalid_command"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
