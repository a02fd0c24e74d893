"""`wfe demo`: a realistic, deterministic workforce ecosystem posted through the public APIs.

Generation is pure and seeded (`plan.build_plan`): `vocabulary` (who each type is),
`people` (names, addresses, twists), `lives`/`episodes`/`life` (each contributor's years),
`story` (a mirror of the registry's rules, so nothing planned can be rejected), `arrivals`
(Okta over SCIM, duplicates from a second system). Posting is `runner` over `http`, with
`rest` mapping an event to the HR tool's REST call.
"""
