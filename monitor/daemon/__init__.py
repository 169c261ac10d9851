"""The running service: the composition root that builds every collaborator from the config
(``wiring``), the scheduler, the main thread's lifecycle (signals, sd_notify, watchdog), SIGHUP
reload and SIGTERM drain.

May import every other sub-package of ``monitor`` except ``cli`` and ``demo``; only they import it.
"""
