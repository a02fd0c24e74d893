"""Contributor types are data that organisations extend."""

from __future__ import annotations

import pytest

from services.registry.domain.types import DEFAULT_CONTRIBUTOR_TYPES, ContributorTypes


def test_the_eight_defaults_and_their_kinds() -> None:
    assert DEFAULT_CONTRIBUTOR_TYPES.names == {
        "employee",
        "contractor",
        "agency_worker",
        "gig_worker",
        "subcontractor",
        "partner",
        "app_developer",
        "digital_agent",
    }
    assert DEFAULT_CONTRIBUTOR_TYPES.kind("subcontractor") == "firm"
    assert DEFAULT_CONTRIBUTOR_TYPES.kind("digital_agent") == "agent"
    assert DEFAULT_CONTRIBUTOR_TYPES.kind("gig_worker") == "person"


def test_an_organisation_adds_its_own_types() -> None:
    types = DEFAULT_CONTRIBUTOR_TYPES.with_type("logistics_carrier", firm=True).with_type(
        "robot", non_human=True
    )
    assert "logistics_carrier" in types
    assert types.kind("logistics_carrier") == "firm"
    assert types.kind("robot") == "agent"
    assert "robot" not in DEFAULT_CONTRIBUTOR_TYPES


@pytest.mark.parametrize(
    "build",
    [
        lambda: ContributorTypes(names=frozenset({"Not A Name"})),
        lambda: ContributorTypes(names=frozenset({"employee"}), firms=frozenset({"firm"})),
        lambda: ContributorTypes(
            names=frozenset({"x_y"}), firms=frozenset({"x_y"}), non_human=frozenset({"x_y"})
        ),
    ],
)
def test_inconsistent_configuration_is_rejected(build: object) -> None:
    with pytest.raises(ValueError, match=r"."):
        build()  # type: ignore[operator]
