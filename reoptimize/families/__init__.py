"""Model families: ``family.py`` holds the ModelFamily protocol and its table, one family per file
(``mlp_family.py``): input kind, structured pruning, students, augmentations, torch weights.

May import ``reoptimize.train``, ``reoptimize.tasks`` and ``reoptimize.recipes``.
"""
