"""Evidently's HTML drift reports: when one is rendered (on drift or on request), and the worker
process that renders it.

May import ``monitor.check``, ``monitor.state`` and the top-level modules of ``monitor``.
"""
