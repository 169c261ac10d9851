"""What a model predicts: ``task.py`` holds the Task protocol and its table, one task per file
(``classification``, ``regression``).

Imports nothing else of ours; everything else in ``reoptimize`` (and the daemon) may import it.
"""
