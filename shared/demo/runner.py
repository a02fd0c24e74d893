"""Posts a plan through the registry's public APIs: CloudEvents batches for the bulk, REST for
the HR tool's contributors, SCIM for Okta, and the duplicate arrivals last (they need the
originals in place). Lanes of batches and REST stories run in parallel; each contributor's
events stay in order because a contributor belongs to exactly one lane."""

from __future__ import annotations

import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shared.demo.arrivals import Duplicate, ScimUser
from shared.demo.http import Answer, Api
from shared.demo.plan import DemoPlan
from shared.demo.planned import PlannedEvent
from shared.demo.rest import rest_call

BATCH = "application/cloudevents-batch+json"
SCIM = "application/scim+json"
BATCH_SIZE = 500
"""Below the registry's 1,000: a batch is one transaction, and on SQLite (`wfe dev`) a
shorter one keeps the other lanes' wait for the single writer lock short."""
SHOWN_PROBLEMS = 5

Progress = Callable[[str, int], None]
"""(what is being posted, how many more units are done)"""
T = TypeVar("T")


@dataclass
class Tally:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    duplicates_detected: int = 0
    requests: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, accepted: int = 0, duplicate: int = 0, channel: str = "") -> None:
        with self._lock:
            self.accepted += accepted
            self.duplicate += duplicate
            if channel:
                self.requests[channel] += 1

    def reject(self, what: str, why: str, count: int = 1) -> None:
        with self._lock:
            self.rejected += count
            if len(self.problems) < SHOWN_PROBLEMS:
                self.problems.append(f"{what}: {why}")

    def detected(self) -> None:
        with self._lock:
            self.duplicates_detected += 1


def units(plan: DemoPlan) -> int:
    """How many steps the progress bar counts: one per event or request."""
    scim = sum(1 + len(u.follow_ups) for u in plan.scim_users)
    return len(plan.events) + scim + 2 * len(plan.duplicates)


def check_access(api: Api, scim: Api) -> None:
    """Fails fast, before posting anything, on an unreachable server or a refused token."""
    for client, path in ((api, "/v1/contributors?limit=1"), (scim, "/scim/v2/Users?count=0")):
        answer = client.call("GET", path)
        if answer.status != 200:
            # Something answers, but not the registry (the policy service's port, say).
            raise RuntimeError(f"{api.url} is not a registry: GET {path} {answer.problem()}")


def run(plan: DemoPlan, api: Api, scim: Api, progress: Progress, workers: int) -> Tally:
    tally = Tally()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        lanes = _lanes(plan.cloudevents, workers)
        _all(pool, lanes, lambda lane: _post_batches(api, lane, tally, progress))
        stories = plan.rest_stories()
        _all(pool, stories, lambda story: _post_story(api, story, tally, progress))
        _all(pool, plan.scim_users, lambda user: _provision(scim, user, tally, progress))
        _all(pool, plan.duplicates, lambda d: _arrive_again(api, scim, d, tally, progress))
    return tally


def _all(pool: ThreadPoolExecutor, items: Sequence[T], work: Callable[[T], None]) -> None:
    """Runs `work` on every item. The first failure (server gone, token refused, Ctrl-C)
    cancels what has not started and is raised once the started items are done."""
    futures = [pool.submit(work, item) for item in items]
    try:
        for future in futures:
            future.result()
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def _lanes(events: Iterable[PlannedEvent], count: int) -> list[list[PlannedEvent]]:
    """Events split by contributor (a stable hash), order kept within each lane."""
    lanes: list[list[PlannedEvent]] = [[] for _ in range(count)]
    for e in events:
        lanes[zlib.crc32(e.subject.encode()) % count].append(e)
    return [lane for lane in lanes if lane]


def _post_batches(api: Api, lane: list[PlannedEvent], tally: Tally, progress: Progress) -> None:
    for start in range(0, len(lane), BATCH_SIZE):
        batch = lane[start : start + BATCH_SIZE]
        answer = api.call("POST", "/v1/events", [e.cloudevent() for e in batch], content_type=BATCH)
        tally.add(channel="cloudevents")
        if answer.status != 200:
            tally.reject(f"batch of {len(batch)}", answer.problem(), len(batch))
        else:
            body = answer.body
            tally.add(accepted=body["accepted"], duplicate=body["duplicates"])
            for event, result in zip(batch, body["results"], strict=True):
                if result["status"] == "rejected":
                    tally.reject(f"{event.verb} {event.subject}", _detail(result["problem"]))
        progress("CloudEvents batches", len(batch))


def _post_story(api: Api, story: list[PlannedEvent], tally: Tally, progress: Progress) -> None:
    for event in story:
        method, path, body = rest_call(event)
        # Derived from the event id: a re-run replays the stored answer instead of repeating.
        key = {"Idempotency-Key": f"wfe-demo-{event.id}"}
        answer = api.call(method, path, body, headers=key)
        tally.add(channel="rest")
        if answer.status in (200, 201):
            replayed = answer.headers.get("idempotent-replayed") == "true"
            tally.add(accepted=0 if replayed else 1, duplicate=1 if replayed else 0)
        elif _problem_type(answer) == "idempotency-key-reused":
            # Posted by a run on another day: same event id, dates shifted with the window.
            tally.add(duplicate=1)
        else:
            tally.reject(f"{event.verb} {event.subject} (REST)", answer.problem())
        progress("REST (HR tool)", 1)


def _provision(scim: Api, user: ScimUser, tally: Tally, progress: Progress) -> None:
    key = {"Idempotency-Key": user.key}
    created = scim.call("POST", "/scim/v2/Users", user.document, content_type=SCIM, headers=key)
    tally.add(channel="scim")
    progress("SCIM (Okta)", 1)
    if created.status not in (200, 201):
        tally.reject(f"SCIM create {user.document['userName']}", _scim_detail(created))
        progress("SCIM (Okta)", len(user.follow_ups))
        return
    replayed = created.headers.get("idempotent-replayed") == "true"
    tally.add(accepted=0 if replayed else 1, duplicate=1 if replayed else 0)
    user_id = created.body["id"]
    for method, document in user.follow_ups:
        answer = scim.call(method, f"/scim/v2/Users/{user_id}", document, content_type=SCIM)
        tally.add(channel="scim")
        if answer.status in (200, 204):
            tally.add(accepted=1)
        else:
            tally.reject(f"SCIM {method} {user_id}", _scim_detail(answer))
        progress("SCIM (Okta)", 1)


def _arrive_again(api: Api, scim: Api, d: Duplicate, tally: Tally, progress: Progress) -> None:
    """The second system registers the person again; the registry answers 409 naming the
    contributor it already has, and the second system's id is linked to that one."""
    if d.via == "rest":
        answer = api.call("POST", "/v1/contributors", d.document)
        tally.add(channel="rest")
        found = _existing(answer)
    else:
        answer = scim.call("POST", "/scim/v2/Users", d.document, content_type=SCIM)
        tally.add(channel="scim")
        found = _scim_owner(scim, answer, d.email)
    progress("Duplicate arrivals", 1)
    if found is None:
        tally.reject(f"{d.system} registration of {d.email}", "not caught as a duplicate")
    else:
        tally.detected()
        link = {"system": d.system, "external_id": d.external_id}
        linked = api.call("POST", f"/v1/contributors/{found}/source-references", link)
        tally.add(channel="rest")
        if linked.status == 200:
            tally.add(accepted=1)
        else:
            tally.reject(f"link {d.system} to {found}", linked.problem())
    progress("Duplicate arrivals", 1)


def _problem_type(answer: Answer) -> str:
    body: Any = answer.body
    return str(body.get("type", "")).rsplit("/", 1)[-1] if isinstance(body, dict) else ""


def _existing(answer: Answer) -> str | None:
    if answer.status == 409 and _problem_type(answer) == "probable-duplicate":
        return str(answer.body["existing_contributor_id"])
    return None


def _scim_owner(scim: Api, answer: Answer, email: str) -> str | None:
    """SCIM names no id in its 409; the IdP finds the owner of the address, as Okta's
    import-and-match does."""
    if answer.status != 409 or not isinstance(answer.body, dict):
        return None
    if answer.body.get("scimType") != "uniqueness":
        return None
    query = {"filter": f'userName eq "{email}"'}
    found = scim.call("GET", "/scim/v2/Users", query=query).body
    resources = found.get("Resources", []) if isinstance(found, dict) else []
    return str(resources[0]["id"]) if resources else None


def _detail(problem: dict[str, Any] | None) -> str:
    if not problem:
        return "rejected"
    return f"{problem.get('status')} {problem.get('detail') or problem.get('title')}"


def _scim_detail(answer: Answer) -> str:
    body: Any = answer.body
    if isinstance(body, dict) and body.get("detail"):
        return f"{answer.status} {body['detail']}"
    return answer.problem()
