"""From what a SCIM request asks (`Desired`) to registry commands, in the order they must run.

Lifecycle mapping: `active: true` walks the contributor to `active` (onboarding and
activation, reinstatement, or re-engagement and activation); `active: false` suspends an
active contributor and leaves any other state alone; DELETE offboards (see scim.py).
"""

from __future__ import annotations

from services.registry.api.scim_attributes import Desired
from services.registry.api.scim_errors import ScimError, invalid_value
from services.registry.api.scim_user import (
    DEFAULT_OWNER,
    DEFAULT_TYPE,
    UNASSIGNED,
    UserRecord,
    email_or_none,
    username_system,
)
from services.registry.domain import commands as c
from services.registry.domain.types import ContributorTypes
from services.registry.domain.values import OffboardingReason, SourceReference, SuspensionReason

# The closest reasons the domain has to "deactivated / removed in the identity provider";
# the event metadata (channel scim, actor = the IdP's token subject) says who did it.
DEACTIVATION_REASON: SuspensionReason = "other"
DELETION_REASON: OffboardingReason = "other"

_Step = type[c.StartOnboarding | c.Activate | c.Reinstate | c.Reengage]
_TO_ACTIVE: dict[str, tuple[_Step, ...]] = {
    "invited": (c.StartOnboarding, c.Activate),
    "onboarding": (c.Activate,),
    "suspended": (c.Reinstate,),
    "offboarded": (c.Reengage, c.Activate),
    "active": (),
}


def _known_type(name: str, types: ContributorTypes) -> str:
    if name not in types:
        raise invalid_value(
            f"userType {name!r} is not a contributor type here; use one of "
            + ", ".join(sorted(types.names))
        )
    return name


def registration(
    d: Desired, contributor_id: str, system: str, types: ContributorTypes
) -> list[c.RegistryCommand]:
    if d.user_name is None:
        raise invalid_value("userName is required")
    address = email_or_none(d.user_name)
    email, username = (address, None) if address else (d.email, d.user_name)
    contributor_type = _known_type(d.contributor_type or DEFAULT_TYPE, types)
    references = []
    if d.external_id is not None:
        references.append(SourceReference(system=system, external_id=d.external_id))
    if username is not None:
        references.append(_username_reference(system, username))
    commands: list[c.RegistryCommand] = [
        c.Register(
            contributor_id=contributor_id,
            contributor_type=contributor_type,
            display_name=d.resolved_display_name() or d.user_name,
            email=email,
            owning_function=d.owning_function or DEFAULT_OWNER.get(contributor_type, "it"),
            sponsor=d.sponsor or UNASSIGNED,
            business_unit=d.business_unit or UNASSIGNED,
            source_references=tuple(references),
        )
    ]
    if d.active is not False:
        commands += [step(contributor_id=contributor_id) for step in _TO_ACTIVE["invited"]]
    return commands


def changes(
    r: UserRecord, d: Desired, system: str, types: ContributorTypes
) -> list[c.RegistryCommand]:
    """The commands that make `r` what `d` asks, or none when it already is."""
    cid = r.id
    commands: list[c.RegistryCommand] = []
    if d.active is True:
        commands += [step(contributor_id=cid) for step in _TO_ACTIVE[r.lifecycle]]
    if d.contributor_type is not None and d.contributor_type != r.contributor_type:
        to_type = _known_type(d.contributor_type, types)
        commands.append(c.ConvertType(contributor_id=cid, to_type=to_type))
    email, username = _user_name_change(r, d)
    profile = {
        name: new
        for name, new, old in (
            ("display_name", d.resolved_display_name(), r.display_name),
            ("email", email, r.email),
            ("owning_function", d.owning_function, r.owning_function),
            ("sponsor", d.sponsor, r.sponsor),
            ("business_unit", d.business_unit, r.business_unit),
        )
        if new is not None and new != old
    }
    if profile:
        commands.append(c.UpdateProfile.model_validate({"contributor_id": cid, **profile}))
    if d.external_id is not None and d.external_id != r.external_id:
        if r.external_id is not None:
            raise ScimError(
                400,
                f"externalId is {r.external_id!r} and cannot change: the registry keeps every "
                "source reference it was given",
                "mutability",
            )
        commands.append(
            c.LinkSourceReference(contributor_id=cid, system=system, external_id=d.external_id)
        )
    if username is not None:
        reference = _username_reference(system, username)
        commands.append(
            c.LinkSourceReference(
                contributor_id=cid, system=reference.system, external_id=reference.external_id
            )
        )
    if d.active is False and r.lifecycle == "active":
        commands.append(c.Suspend(contributor_id=cid, reason=DEACTIVATION_REASON))
    return commands


def _user_name_change(r: UserRecord, d: Desired) -> tuple[str | None, str | None]:
    """The email to set and the non-email userName to link, if any.

    An email-address userName is the contributor's email; then `emails` is ignored, since the
    registry keeps one address and the userName is what the IdP matches users on.
    """
    if d.user_name is None or d.user_name.lower() == r.user_name.lower():
        if d.email is not None and email_or_none(r.user_name) is None:
            return d.email, None
        return None, None
    if r.username_reference is not None:
        raise ScimError(
            400,
            f"userName is {r.username_reference!r} and cannot change: it is not an email "
            "address, and the registry keeps it as a source reference",
            "mutability",
        )
    email = email_or_none(d.user_name)
    if email is not None:
        return email, None
    return d.email, d.user_name


def _username_reference(system: str, username: str) -> SourceReference:
    try:
        return SourceReference(system=username_system(system), external_id=username)
    except ValueError:
        raise invalid_value(
            f"userName {username!r} is neither an email address nor a single word"
        ) from None
