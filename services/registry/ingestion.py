"""What an event posted by an internal system asks the registry to do.

Systems post the catalogue's own event types (validated against the catalogue), and the
registry runs the matching command through the same rules as REST, so an illegal transition
is refused whoever asks. Self-identification is not accepted this way: its values must go
to the vault, which only the REST endpoint does.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.registry.domain import commands as c
from services.registry.domain.events import RegistryEvent
from services.registry.domain.events_lifecycle import PREFIX

COMMANDS: dict[str, type[c.Command]] = {
    "registered": c.Register,
    "onboarding_started": c.StartOnboarding,
    "activated": c.Activate,
    "suspended": c.Suspend,
    "reinstated": c.Reinstate,
    "offboarded": c.Offboard,
    "reengaged": c.Reengage,
    "type_converted": c.ConvertType,
    "profile_updated": c.UpdateProfile,
    "source_reference_linked": c.LinkSourceReference,
    "contract_added": c.AddContract,
    "contract_amended": c.AmendContract,
    "contract_extended": c.ExtendContract,
    "contract_terminated": c.TerminateContract,
    "engagement_started": c.StartEngagement,
    "engagement_ended": c.EndEngagement,
    "check_recorded": c.RecordCheck,
    "access_granted": c.GrantAccess,
    "access_revoked": c.RevokeAccess,
    "dei_program_enrolled": c.EnrolDei,
    "dei_program_withdrawn": c.WithdrawDei,
}
# Where a command names a field differently from the event that records it.
RENAMED = {"contract_extended": {"end": "new_end"}}
INGESTIBLE = frozenset(f"{PREFIX}{verb}.v1" for verb in COMMANDS)

_NAMESPACE = uuid.UUID("5b0c1f9e-6a55-4c4e-9a4e-3f0b6c2d7e10")


class NotIngestible(ValueError):
    pass


def command_for(
    event_type: str, subject: str, payload: RegistryEvent, effective_at: datetime | None
) -> c.RegistryCommand:
    verb = event_type.removeprefix(PREFIX).rsplit(".", 1)[0]
    command = COMMANDS.get(verb)
    if command is None or event_type not in INGESTIBLE:
        raise NotIngestible(f"{event_type} cannot be posted; use the REST API")
    claimed = getattr(payload, "contributor_id", subject)
    if claimed != subject:
        raise NotIngestible(f"subject {subject!r} and data.contributor_id {claimed!r} differ")
    renames = RENAMED.get(verb, {})
    data: dict[str, Any] = {renames.get(k, k): v for k, v in payload.model_dump().items()}
    wanted = set(command.model_fields)
    fields = {k: v for k, v in data.items() if k in wanted}
    fields.update(contributor_id=subject, effective_at=effective_at)
    return command.model_validate(fields)  # type: ignore[return-value]


def stored_event_id(source: str, event_id: str, index: int) -> uuid.UUID:
    """The id of the `index`-th event recorded for a posted event, derived from the posting
    system's (source, id): posting it again finds the same ids, a recognisable duplicate."""
    return uuid.uuid5(_NAMESPACE, f"{source}\n{event_id}\n{index}")
