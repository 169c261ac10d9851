"""Jobs: the supervisor that starts queued jobs on an executor and acts on finished ones, the worker entry point that runs one job, and the executor factory.

May import ``monitor.promote``, ``monitor.sources``, ``monitor.state``, the top-level modules of ``monitor`` and ``reoptimize``."""
