"""The job function: build candidates from the plans of a pipeline or of ``auto``, measure them with the
champion, gate them, and stage the best one as a new version (never production).

The top of ``reoptimize``: may import every other sub-package of it; nothing in ``reoptimize`` imports it.
"""
