"""Alert intake: Alertmanager's and Grafana's webhook payloads, Grafana's signature, the alert log,
and the intake that passes each episode once through the rules and guards.

May import ``monitor.state``, the top-level modules of ``monitor`` and ``rules``.
"""
