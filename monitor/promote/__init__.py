"""Promotion: the promoter (intent, pointer switch, done, reload hook), and the post-promotion watch
that rolls back a regression.

May import ``monitor.state``, the top-level modules of ``monitor`` and ``reoptimize``'s registry and gate.
"""
