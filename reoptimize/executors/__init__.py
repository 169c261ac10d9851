"""Job executors: where a job's function runs. ``executor.py`` is the protocol, one backend per file
(``local``: a subprocess here), chosen through ``executor_backends.EXECUTORS``.

Imports nothing else of ours: an executor knows nothing of a job's contents.
"""
