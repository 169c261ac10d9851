"""Evidently's HTML drift reports, rendered in a worker process of their own.

May import the top-level modules of ``monitor``."""
