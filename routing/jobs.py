"""Periodic jobs: filled in with the engine."""

PERIODIC_JOBS: list = []
