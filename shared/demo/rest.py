"""A planned event as the REST call an HR tool would make for it: the endpoint of the
matching command, the command's fields as the body, `effective_at` for back-dating."""

from __future__ import annotations

from typing import Any

from shared.demo.planned import PlannedEvent

# Verbs whose body is the event's data as it is.
_AS_IS = {
    "registered": "",
    "source_reference_linked": "/source-references",
    "contract_added": "/contracts",
    "engagement_started": "/engagements",
    "check_recorded": "/checks",
    "access_granted": "/access-grants",
    "dei_program_enrolled": "/dei-enrolments",
    "dei_program_withdrawn": "/dei-withdrawals",
    "suspended": "/suspension",
    "offboarded": "/offboarding",
}
_NO_BODY = {
    "onboarding_started": "/onboarding",
    "activated": "/activation",
    "reinstated": "/reinstatement",
    "reengaged": "/reengagement",
}


def rest_call(event: PlannedEvent) -> tuple[str, str, dict[str, Any]]:
    """(method, path, body) for `event`."""
    base = f"/v1/contributors/{event.subject}"
    d = event.data
    method, path, body = "POST", base, dict(d)
    if event.verb == "registered":
        path = "/v1/contributors"
    elif event.verb in _AS_IS:
        path = base + _AS_IS[event.verb]
    elif event.verb in _NO_BODY:
        path, body = base + _NO_BODY[event.verb], {}
    elif event.verb == "type_converted":
        path, body = base + "/conversion", {"to_type": d["to_type"]}
    elif event.verb == "profile_updated":
        method = "PATCH"
    elif event.verb == "contract_amended":
        method, path = "PATCH", f"{base}/contracts/{d['contract_id']}"
        body = {k: v for k, v in d.items() if k != "contract_id"}
    elif event.verb == "contract_extended":
        path, body = f"{base}/contracts/{d['contract_id']}/extension", {"new_end": d["end"]}
    elif event.verb == "contract_terminated":
        path, body = f"{base}/contracts/{d['contract_id']}/termination", {"end": d["end"]}
    elif event.verb == "engagement_ended":
        path, body = f"{base}/engagements/{d['engagement_id']}/end", {"end": d["end"]}
    elif event.verb == "access_revoked":
        path = f"{base}/access-grants/{d['grant_id']}/revocation"
        body = {"reason": d["reason"]}
    else:
        raise ValueError(f"no REST call for {event.verb}")
    body["effective_at"] = event.effective.isoformat()
    return method, path, body
