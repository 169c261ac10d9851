"""The modelhealthd daemon: config, scheduler, sources, checks, drift engine, exporter, API, state and CLI."""
