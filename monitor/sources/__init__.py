"""Where a check's inputs come from: serving metrics (a scrape or Prometheus, chosen by the running
config), prediction logs and labels.

May import ``monitor.state``, ``monitor.running_config`` and ``monitor.config``.
"""
