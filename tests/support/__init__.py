"""Shared test helpers (fixtures other test packages import)."""
