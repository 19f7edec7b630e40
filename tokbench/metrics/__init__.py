"""Shared metrics: pure functions over arrays and counts, each documented with its formula and source."""
