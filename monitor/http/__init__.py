"""The daemon's HTTP API: routes, the narrow protocol of what they need from the daemon
(``operations``), bearer-token auth and the body limit, and the webhook routes.

May import ``monitor.alerts``, ``monitor.reports``, ``monitor.promote``, ``monitor.check``,
``monitor.sources``, ``monitor.state``, the top-level modules of ``monitor``, ``rules`` and
``reoptimize``'s registry.
"""
