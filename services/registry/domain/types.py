"""Contributor types are configuration data, not code: organisations add their own."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TYPE_NAME_PATTERN = r"^[a-z][a-z0-9_]{1,49}$"
_TYPE_NAME = re.compile(TYPE_NAME_PATTERN)

ContributorKind = Literal["person", "firm", "agent"]


@dataclass(frozen=True, slots=True)
class ContributorTypes:
    """The type names an organisation allows, and which of them are firms or non-human.

    A type is a person unless listed as a firm or as non-human; the kind decides what may
    apply to a contributor at all (only people self-identify or join DEI programs).
    """

    names: frozenset[str]
    firms: frozenset[str] = frozenset()
    non_human: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        bad = sorted(name for name in self.names if not _TYPE_NAME.fullmatch(name))
        if bad:
            raise ValueError(f"contributor type names must match {TYPE_NAME_PATTERN}: {bad}")
        for label, subset in (("firms", self.firms), ("non_human", self.non_human)):
            if not subset <= self.names:
                raise ValueError(f"{label} lists unknown types: {sorted(subset - self.names)}")
        if self.firms & self.non_human:
            raise ValueError(
                f"types cannot be both firm and non-human: {self.firms & self.non_human}"
            )

    @classmethod
    def defaults(cls) -> ContributorTypes:
        return cls(
            names=frozenset(
                {
                    "employee",
                    "contractor",
                    "agency_worker",
                    "gig_worker",
                    "subcontractor",
                    "partner",
                    "app_developer",
                    "digital_agent",
                }
            ),
            firms=frozenset({"subcontractor"}),
            non_human=frozenset({"digital_agent"}),
        )

    def with_type(
        self, name: str, *, firm: bool = False, non_human: bool = False
    ) -> ContributorTypes:
        return ContributorTypes(
            names=self.names | {name},
            firms=self.firms | {name} if firm else self.firms - {name},
            non_human=self.non_human | {name} if non_human else self.non_human - {name},
        )

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def kind(self, name: str) -> ContributorKind:
        if name in self.firms:
            return "firm"
        if name in self.non_human:
            return "agent"
        return "person"


DEFAULT_CONTRIBUTOR_TYPES = ContributorTypes.defaults()
