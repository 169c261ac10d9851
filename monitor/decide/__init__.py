"""Deciding after a check: running the rules, the guard context answered from the state store, and
queuing the jobs the guards allow.

May import ``rules``, ``monitor.state`` and the top-level modules of ``monitor``.
"""
