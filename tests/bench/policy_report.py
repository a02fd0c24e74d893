"""The policy benchmark's targets, tables and method, from its measurements."""

from __future__ import annotations

import os
from collections.abc import Sequence

from services.policy.engine import PUBLICATION_CHUNK
from tests.bench.policy_access import BARE, CHECK, ENGINE, POLICY, AccessPlan
from tests.bench.policy_publish import Phase, Publication
from tests.bench.policy_seed import SEED_BATCH, Seeding, affected_types
from tests.bench.profiling import Profile, top_libraries
from tests.bench.sections import Rows, Table, Target, figure, ratio
from tests.bench.service_load import Results
from tests.bench.service_tables import closed_table, open_table

DECISIONS_TARGET, P99_TARGET = 10000.0, 5.0


def _phase(phases: list[Phase], prefix: str) -> Phase | None:
    return next((p for p in phases if p.name.startswith(prefix)), None)


def targets(
    publication: Publication, phases: list[Phase], results: Results, rate: int
) -> list[Target]:
    peers = []
    for prefix, label in (
        ("evaluate", "evaluate, schedule and diff alone"),
        ("read", "read and decode alone"),
    ):
        phase = _phase(phases, prefix)
        if phase is not None and phase.rate:
            peers.append(
                f"{ratio(publication.contributor_rate, phase.rate)} {label}"
                f" ({phase.rate:,.0f} contributors/s)"
            )
    found = [
        Target(
            f"decisions/s re-evaluating {publication.contributors:,} contributors after a"
            " policy change",
            publication.decision_rate,
            DECISIONS_TARGET,
            "decisions/s",
            f"publication: {publication.contributor_rate:,.0f} contributors/s; " + "; ".join(peers),
        )
    ]
    checked = results.find(POLICY, CHECK, float(rate))
    if checked is not None:
        p99 = checked.measurement.percentile_ms(99) or 0.0
        notes = []
        for peer in (BARE, ENGINE):
            other = results.find(peer, CHECK, float(rate))
            value = other.measurement.percentile_ms(99) if other else None
            if value:
                notes.append(f"{ratio(p99, value)} {peer} p99 ({figure(value)} ms)")
        claim = f"access check p99 at {rate:,} requests/s offered, open loop"
        found.append(Target(claim, p99, P99_TARGET, "ms", "; ".join(notes), at_most=True))
    return found


def publication_table(publication: Publication, phases: list[Phase]) -> Table:
    rows: Rows = [
        [
            f"PolicyEngine.publish ({publication.processes} processes,"
            f" {PUBLICATION_CHUNK:,} contributors per transaction)",
            f"{publication.contributors:,}",
            f"{publication.seconds:,.1f}",
            f"{publication.contributor_rate:,.0f}",
            f"{publication.decisions:,}",
            f"{publication.decision_rate:,.0f}",
            "100%",
            "yes"
            if publication.stored == publication.decisions
            else f"NO ({publication.stored:,})",
        ]
    ]
    per_contributor = (
        publication.seconds / publication.contributors if publication.contributors else 0
    )
    for phase in phases:
        share = (
            (phase.seconds / phase.contributors) / per_contributor
            if phase.contributors and per_contributor
            else 0
        )
        rows.append(
            [
                f"alone: {phase.name}",
                f"{phase.contributors:,}",
                f"{phase.seconds:,.2f}",
                f"{phase.rate:,.0f}",
                f"{phase.decisions:,}" if phase.decisions else "—",
                f"{phase.decision_rate:,.0f}" if phase.decisions else "—",
                f"{100 * share:.0f}%",
                "n/a",
            ]
        )
    header = [
        "what",
        "contributors",
        "seconds",
        "contributors/s",
        "decisions",
        "decisions/s",
        "time per contributor vs publish",
        "stored",
    ]
    title = "Publication: a new policy lowers every ceiling above public"
    return Table(title, header, rows, frozenset({0}))


def access_tables(results: Results) -> list[Table]:
    return [
        closed_table("Access checks, closed loop", results.all, "checks", "checks/s"),
        open_table("Access checks, open loop: fixed arrival rate", results.all),
    ]


def method(seeding: Seeding, sample: int, access: AccessPlan) -> list[str]:
    affected = ", ".join(affected_types())
    return [
        f"Seeding: {seeding.template:,} contributors, the types in turn, are folded by"
        f" `PolicyEngine.on_registry_events` ({SEED_BATCH} contributors per call and"
        " transaction) from the registry events of an active contributor: registered,"
        " onboarding started, every check the type requires passed, a contract where the"
        " type needs one, activated, one grant at the type's ceiling. Views, evaluations,"
        " decision streams and timers are then copied in SQL under new ids up to"
        f" {seeding.contributors:,} contributors (the engine records event by event; folding"
        f" them all would take most of an hour). Took {seeding.template_seconds:.0f} s +"
        f" {seeding.copy_seconds:.0f} s.",
        "Publication: `PolicyEngine.publish` of the default policy with every ceiling above"
        f" `public` lowered by one classification: the version in one transaction, then the"
        f" re-evaluation in transactions of {PUBLICATION_CHUNK:,} contributors, cut by id into"
        " slices that one process per CPU takes in turn, as `wfe serve policy` does"
        " (`services/policy/shares.py`; the publishing process is one of them); contributors of"
        f" {affected} hold a grant at the old ceiling, which now must go"
        " (`access_revocation_required`). Decisions/s = decisions emitted / seconds of the"
        " call (validation, the re-evaluation of every contributor, commit); the decision"
        " events stored afterwards must equal those emitted.",
        f"The parts alone, on {sample:,} contributors: the publication's query (`FOR UPDATE`,"
        " view and evaluation as JSON text) with pydantic decoding from that text; `evaluate`,"
        " `schedule.timer_keys` and `decisions` in memory; the rows written back with the"
        " project's `upsert`, a thousand rows per statement (publish writes only the"
        " evaluation, encoded by pydantic, and its timers as text, appends a chunk's decisions"
        " in one multi-stream append and inserts only the timers that are new). Time"
        " per contributor is compared with the publication's.",
        f"Access checks: `wfe serve policy` in its own process, {access.contributors:,}"
        " contributors seeded the same way before it starts (the seeded decisions taken out"
        " of the outbox: set-up, not news for its relay to publish), after the publication's"
        " schema is dropped and PostgreSQL asked for a `CHECKPOINT`, so that the checks pay"
        " neither for writing out the publication's pages nor for vacuuming after it."
        " Closed loop:"
        f" {access.clients} clients, {access.rounds} rounds taking turns with the peers."
        f" Open loop: {access.rate:,} requests/s for {access.open_loop.seconds or 0:g} s"
        f" (peers {access.peer_open_loop.seconds or 0:g} s) over up to {access.connections}"
        " connections; latency from each arrival's scheduled time to its answer. Peers: the"
        " bare FastAPI endpoint (HTTP ceiling) and `PolicyEngine.access` called in this"
        " process (database and Cedar without HTTP), one pooled connection per call.",
    ]


def why(
    publication: Publication,
    phases: list[Phase],
    results: Results,
    rate: int,
    profiles: Sequence[tuple[str, Profile]],
) -> list[str]:
    """For each target missed, what the measurements say stands in the way (the harness
    writes this, so it always matches the figures above)."""
    notes: list[str] = []
    evaluated = _phase(phases, "evaluate")
    if publication.decision_rate < DECISIONS_TARGET and evaluated and publication.contributors:
        cores = os.cpu_count() or 1
        per_contributor = 1e6 / publication.contributors
        python = publication.python_cpu * per_contributor
        rest = max(publication.machine_cpu - publication.python_cpu, 0.0) * per_contributor
        most = cores * 1e6 / (python + rest) if python + rest else 0.0
        share = publication.decisions / publication.contributors
        notes.append(
            f"Why the publication target is missed here: it is bound by the machine's {cores}"
            " CPUs, shared with PostgreSQL. The re-evaluation ran in"
            f" {publication.processes} processes and kept"
            f" {publication.machine_cpu / publication.seconds:.2f} of {cores} CPUs busy; each"
            f" contributor took {python:,.0f} µs of CPU in Python (decoding, evaluating,"
            f" encoding; in one process: {top_libraries(profiles, 'publish')}) and"
            f" {rest:,.0f} µs elsewhere, PostgreSQL mostly. At {python + rest:,.0f} µs per"
            f" contributor, {cores} CPUs kept fully busy re-evaluate at most {most:,.0f}"
            f" contributors/s: {most * share:,.0f} decisions/s at this workload's"
            f" {share:.2f} decisions per contributor. Evaluating, scheduling and diffing"
            f" alone, in memory, take {1e6 / evaluated.rate:,.0f} µs per contributor."
        )
    checked = results.find(POLICY, CHECK, float(rate))
    bare = results.find(BARE, CHECK, float(rate))
    alone = results.find(ENGINE, CHECK, float(rate))
    p99 = checked.measurement.percentile_ms(99) if checked else None
    if checked is not None and p99 is not None and p99 > P99_TARGET and bare and alone:
        cpu = (checked.service_cpu or 0.0) / checked.measurement.seconds
        notes.append(
            f"Why the latency target is missed here: at {rate:,} requests/s the service kept"
            f" {cpu:.2f} of a CPU busy ({1000 * cpu / rate:.2f} ms per check), on CPUs"
            " shared with PostgreSQL, Kafka, the load generator and other work; the bare"
            f" FastAPI endpoint's own p99 was {figure(bare.measurement.percentile_ms(99) or 0)}"
            " ms and the engine's alone (a database round trip and a Cedar evaluation, no"
            f" HTTP) {figure(alone.measurement.percentile_ms(99) or 0)} ms. Profile of the"
            f" service: {top_libraries(profiles, 'access')}."
        )
    return notes
