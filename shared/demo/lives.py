"""A contributor's whole life over the simulated years: registration, engagements (each with
onboarding, checks, contract, activation, work), and how each one ends — at the contract's
end, early, by a termination recorded weeks late, or not at all (access left orphaned) —
and sometimes a return, possibly as another type."""

from __future__ import annotations

from datetime import date, timedelta

from shared.demo.episodes import convert, tick
from shared.demo.life import Life
from shared.demo.planned import at
from shared.demo.vocabulary import ACCESS_SOURCE, CONTRACTS_SOURCE

# Who comes back as what, when not as before (a person stays a person).
RETURNS_AS = {
    "employee": "contractor",
    "contractor": "employee",
    "agency_worker": "contractor",
    "gig_worker": "agency_worker",
    "partner": "contractor",
    "app_developer": "partner",
}


def live(life: Life) -> None:
    p, story, rng = life.person, life.story, life.rng
    day = p.arrival
    story.register(
        {
            "contributor_type": p.profile.name,
            "display_name": p.display_name,
            "email": p.email,
            "owning_function": p.profile.owner,
            "sponsor": p.sponsor,
            "business_unit": p.business_unit,
            "source_references": [{"system": p.profile.system, "external_id": p.external_id}],
        },
        life.when(day),
        p.profile.source,
    )
    day += timedelta(days=rng.randint(0, 3))
    story.move("onboarding_started", life.when(day), p.profile.source)
    first = True
    while _engagement(life, day, first) and p.reengage and story.lifecycle == "offboarded":
        day = life.today + timedelta(days=rng.randint(45, 240))
        if not life.fits(day + timedelta(days=45)):
            return
        story.move("reengaged", life.when(day), life.profile.source)
        back_as = RETURNS_AS.get(life.profile.name)
        if back_as is not None and rng.random() < 0.25:
            story.convert(back_as, life.when(day), life.profile.source)
            life.switch_profile(back_as)
            owner = {"owning_function": life.profile.owner}
            story.update_profile(owner, life.when(day), life.profile.source)
        first = False


def _engagement(life: Life, day: date, first: bool) -> bool:
    """Onboarding to the end of one engagement; False when the window ends first."""
    story, rng, profile = life.story, life.rng, life.profile
    if profile.classifications[0] != "public" and rng.random() < 0.3:
        life.grant(day + timedelta(days=1), profile.classifications[0])  # e-mail, chat
    day = life.record_checks(day + timedelta(days=1), only_missing=not first)
    if first and rng.random() < 0.02:
        # The candidate withdraws before starting.
        day += timedelta(days=rng.randint(1, 5))
        if life.fits(day):
            story.offboard("other", life.when(day), profile.source)
        return False
    day += timedelta(days=rng.randint(1, 5))
    if not life.fits(day + timedelta(days=1)):
        return False
    life.start_work(day)
    story.move("activated", life.when(day), profile.source)
    for _ in range(rng.randint(1, 3)):
        life.grant(day)
    return _work(life, day)


def _work(life: Life, started: date) -> bool:
    """Ticks of 3 to 8 weeks until the engagement ends; True if it did within the window."""
    p, story, rng = life.person, life.story, life.rng
    day = started
    converted = False
    while True:
        day = max(day, life.today) + timedelta(days=rng.randint(20, 60))
        end = life.contract_end()
        if end is not None and day >= end - timedelta(days=14) and life.fits(end):
            decided = max(life.today, end - timedelta(days=14))
            if story.lifecycle == "active" and rng.random() < 0.45 and not p.orphaned_access:
                months = life.profile.contract_months or (6, 6)
                new_end = end + timedelta(days=30 * rng.randint(*months))
                assert life.contract_id is not None
                story.extend(life.contract_id, new_end, life.when(decided), CONTRACTS_SOURCE)
                continue
            return _contract_ends(life, end)
        if not life.fits(day):
            return False
        active_for = (day - started).days
        if story.lifecycle == "active" and active_for > 90:
            if p.convert_to and not converted and life.profile.name != p.convert_to:
                convert(life, day, p.convert_to)
                converted = True
                continue
            if p.backdated_exit and life.fits(day + timedelta(days=50)):
                return _exit_recorded_late(life, day)
            if rng.random() < _leaving_chance(life.profile.name):
                return _leave_early(life, day)
        tick(life, day)


def _leaving_chance(type_name: str) -> float:
    return {"employee": 0.012, "digital_agent": 0.02}.get(type_name, 0.006)


def _contract_ends(life: Life, end: date) -> bool:
    """The contract runs out. Usually the contributor is offboarded on the day; with
    orphaned access the engagement is closed but nobody offboards, so the grants stay."""
    story, rng, profile = life.story, life.rng, life.profile
    engagement = life.engagement_id
    closes = life.person.orphaned_access or rng.random() < 0.5
    if engagement is not None and story.engagements[engagement]["open"] and closes:
        story.end_engagement(engagement, end, life.when(end), profile.source)
    if life.person.orphaned_access:
        return False
    if rng.random() < 0.4:
        for grant_id in sorted(story.grants):
            story.revoke(grant_id, "contract_ended", life.when(end), ACCESS_SOURCE)
    day = end + timedelta(days=rng.randint(0, 2))
    if not life.fits(day):
        return False
    reason = "vendor_relationship_ended" if profile.kind == "firm" else "contract_ended"
    story.offboard(reason, life.when(day), profile.source)
    return True


def _leave_early(life: Life, day: date) -> bool:
    story, profile = life.story, life.profile
    if profile.kind == "agent":
        story.offboard("decommissioned", life.when(day), profile.source)
        return True
    if life.contract_id is not None and not story.contracts[life.contract_id].terminated:
        story.terminate(life.contract_id, day, life.when(day), CONTRACTS_SOURCE)
    reason = life.rng.choice(("resigned", "resigned", "dismissed", "retired"))
    story.offboard(reason, life.when(day), profile.source)
    return True


def _exit_recorded_late(life: Life, last_day: date) -> bool:
    """The contributor left on `last_day`, but HR records it weeks later, back-dated. In
    between, systems that did not know kept going: access granted after the real end is
    the audit finding this produces."""
    story, rng, profile = life.story, life.rng, life.profile
    recorded_on = last_day + timedelta(days=rng.randint(14, 42))
    if story.lifecycle == "active":
        life.grant(last_day + timedelta(days=rng.randint(2, 9)))
    learned = at(recorded_on, 600 + rng.randint(0, 300))
    took_effect = at(last_day, 17 * 60)
    if life.contract_id is not None and not story.contracts[life.contract_id].terminated:
        contract = story.contracts[life.contract_id]
        if contract.end is None or contract.end >= last_day:
            story.terminate(
                life.contract_id, last_day, took_effect, CONTRACTS_SOURCE, learned=learned
            )
    reason = "dismissed" if rng.random() < 0.3 else "resigned"
    story.offboard(reason, took_effect, profile.source, learned=learned)
    life.advance(recorded_on)  # later events of this life happen after the correction
    return True
