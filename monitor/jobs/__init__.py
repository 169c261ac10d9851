"""Jobs: the supervisor that starts queued jobs on an executor and acts on finished ones, the
settings a job carries to its worker, and the worker entry point that runs one job.

May import ``monitor.promote``, ``monitor.sources``, ``monitor.state``, the top-level modules of
``monitor`` and ``reoptimize``.
"""
