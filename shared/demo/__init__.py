"""`wfe demo`: a realistic, deterministic workforce ecosystem posted through the public APIs.

`plan` builds everything as data (pure, seeded); `runner` posts it over HTTP.
"""
