"""The policy service's pure domain: the policy document, the policy's view of a contributor,
evaluation, decision events and Cedar access checks.

Nothing here does I/O or reads a clock; the day to evaluate for comes in as an argument.
"""
