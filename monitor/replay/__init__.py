"""The traffic drill: replay a dataset's rows to a model server, inject drift, deliver labels late, and
count what was done.

May import ``serving``'s prediction-log format and nothing of ``monitor``.
"""
