"""Chaos tests: engines killed mid-flight, corrupt state, floods; each asserts that nothing is lost."""
