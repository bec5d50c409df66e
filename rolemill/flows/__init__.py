"""Prefect flows: the build pipeline, its stages, and the thin CLI front.

The `build_dataset` flow arrives with the factory issue; this package holds flows
only, never the units of work (those live in `rolemill.tasks`).
"""
