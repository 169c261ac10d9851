"""``modelhealthd demo``: the whole loop on a digits classifier, with no config needed.

May import ``monitor.replay``, ``monitor.config`` and ``reoptimize``; it runs the daemon and the
server as processes of their own.
"""
