"""Fixtures every test can use: the state store on each backend (see tests/support/postgres.py)."""

pytest_plugins = ["tests.support.postgres"]
