"""The daemon's durable facts: checks, rule states, jobs, promotions, the decision log, labels and
alerts, one repository per table (all SQL lives here), migrations, the daemon's lock, backup
and restore.

May import ``reoptimize.registry`` (for the production pointers a backup records) and nothing of ``monitor``.
"""
