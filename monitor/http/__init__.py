"""The daemon's HTTP API: routes, bearer-token auth and the body limit, the webhook routes and the report endpoint.

May import ``monitor.alerts``, ``monitor.promote``, ``monitor.check.checker``, ``monitor.sources``, ``monitor.state``, the top-level modules of ``monitor``, ``rules`` and ``reoptimize``'s registry."""
