"""The registry's pure domain: events, the contributor aggregate, commands and `decide`.

Nothing here does I/O or reads a clock; time comes in as arguments.
"""
