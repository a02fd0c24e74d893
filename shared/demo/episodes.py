"""What happens to an engaged contributor between two ticks of the simulation: renewals,
lapses, suspensions, moves, DEI, and the conversion of a contractor into an employee."""

from __future__ import annotations

from datetime import date, timedelta

from shared.demo.life import Life
from shared.demo.vocabulary import ACCESS_SOURCE, BUSINESS_UNITS, BY_NAME, CONTRACTS_SOURCE

# Types whose policy is strict: an expired mandatory check suspends them.
STRICT = frozenset({"contractor", "app_developer", "digital_agent"})
HR_SOURCE = BY_NAME["employee"].source


def tick(life: Life, day: date) -> None:
    """One day in an engagement; at most one discretionary happening besides the sweeps."""
    life.sweep_expired_grants(day)
    if life.story.lifecycle == "suspended":
        _end_suspension(life, day)
        return
    _renew_checks(life, day)
    if life.story.lifecycle != "active":
        return
    roll = life.rng.random()
    if roll < 0.04:
        reason = life.rng.choice(("leave_of_absence", "investigation", "sponsor_request"))
        life.story.move("suspended", life.when(day), life.profile.source, reason)
    elif roll < 0.16:
        _enrol(life, day)
    elif roll < 0.19 and life.story.dei:
        program = life.rng.choice(sorted(life.story.dei))
        life.story.withdraw(program, life.when(day), HR_SOURCE)
    elif roll < 0.29:
        life.grant(day)
    elif roll < 0.34:
        _move(life, day)
    elif roll < 0.37 and life.contract_id is not None:
        terms = f"https://contracts.example.com/{life.contract_id}/a{life.rng.randint(1, 9)}"
        if life.story.contracts[life.contract_id].terms_reference != terms:
            life.story.amend(life.contract_id, terms, life.when(day), CONTRACTS_SOURCE)


def _renew_checks(life: Life, day: date) -> None:
    """Most checks are renewed before they expire; people whose checks lapse keep them
    expired (the "expiring checks" of the compliance report), and strict types are
    suspended for it."""
    validity = dict(life.profile.checks)
    for name, valid_until in sorted(life.story.checks.items()):
        if name not in validity or valid_until is None or valid_until > day + timedelta(days=30):
            continue
        if not life.person.lapse_checks:
            life.pass_check(name, validity[name], max(day, life.today))
        elif valid_until < day and life.profile.name in STRICT and life.story.lifecycle == "active":
            life.story.move(
                "suspended", life.when(day), life.profile.source, "compliance_check_expired"
            )


def _end_suspension(life: Life, day: date) -> None:
    if life.rng.random() < 0.25:
        return  # a longer leave, an investigation that drags on
    validity = dict(life.profile.checks)
    for name, valid_until in sorted(life.story.checks.items()):
        if name in validity and valid_until is not None and valid_until < day:
            life.pass_check(name, validity[name], day)
    life.story.move("reinstated", life.when(day), life.profile.source)


def _enrol(life: Life, day: date) -> None:
    if life.profile.kind != "person":
        return
    open_programs = sorted(set(life.profile.dei) - life.story.dei)
    if open_programs:
        life.story.enrol(life.rng.choice(open_programs), life.when(day), HR_SOURCE)


def _move(life: Life, day: date) -> None:
    """A new sponsor, or a move to another business unit (a new engagement there)."""
    story, rng = life.story, life.rng
    if rng.random() < 0.5 or life.engagement_id is None:
        sponsor = rng.choice(life.sponsors) if life.sponsors else life.person.sponsor
        if sponsor != life.person.contributor_id:
            story.update_profile({"sponsor": sponsor}, life.when(day), life.profile.source)
        return
    unit = rng.choice(sorted(set(BUSINESS_UNITS) - {story.profile["business_unit"]}))
    old = story.engagements[life.engagement_id]
    if not old["open"] or old["start"] >= day:
        return
    story.end_engagement(life.engagement_id, day - timedelta(days=1), life.when(day), "/hr/tools")
    story.update_profile({"business_unit": unit}, life.when(day), life.profile.source)
    life.engagement_id = life.new_id("E")
    contract = life.contract_id
    if contract is not None and not life.story.contracts[contract].terminated:
        end = life.story.contracts[contract].end
    else:
        contract, end = None, None
    story.start_engagement(
        {
            "engagement_id": life.engagement_id,
            "business_unit": unit,
            "project": rng.choice(BUSINESS_UNITS[unit]),
            "sponsor": story.profile["sponsor"],
            "contract_id": contract,
            "start": day,
            "end": end if end is None or end >= day else day,
        },
        life.when(day),
        life.profile.source,
    )


def convert(life: Life, day: date, to_type: str) -> None:
    """Same identity, new type: the old contract and engagement end the day before, HR links
    its own id, the new type's missing checks are recorded, and work starts under an
    employment contract."""
    story = life.story
    last = day - timedelta(days=1)
    if life.engagement_id is not None and story.engagements[life.engagement_id]["open"]:
        story.end_engagement(life.engagement_id, last, life.when(day), life.profile.source)
    if life.contract_id is not None:
        contract = story.contracts[life.contract_id]
        if not contract.terminated and (contract.end is None or contract.end >= last):
            end = max(last, contract.start)
            story.terminate(life.contract_id, end, life.when(day), CONTRACTS_SOURCE)
    life.contract_id = life.engagement_id = None
    story.convert(to_type, life.when(day), HR_SOURCE)
    life.switch_profile(to_type)
    story.update_profile({"owning_function": life.profile.owner}, life.when(day), HR_SOURCE)
    if to_type == "employee":
        story.link("workday", f"W-{life.person.external_id}", life.when(day), HR_SOURCE)
    day = life.record_checks(day, only_missing=True)
    if not life.fits(day):
        return  # the rest of the conversion lies beyond the simulated years
    life.start_work(day)
    for grant_id in sorted(story.grants)[:1]:
        story.revoke(grant_id, "role_change", life.when(day), ACCESS_SOURCE)
    life.grant(day)
