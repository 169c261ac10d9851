"""Job executors: where a job's worker process runs. ``local`` runs it as a subprocess here."""
