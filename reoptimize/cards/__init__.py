"""Model cards: one page per version with its metrics, lineage, gate verdict and a decision-tree surrogate.

May import ``reoptimize.train``, ``reoptimize.onnx``, ``reoptimize.registry`` and ``reoptimize.tasks``.
"""
