"""Measuring candidates against the champion on the same rows and CPU, the promotion policy, its
decision and verdict, the choice among passed candidates, and the live-regression test of the
post-promotion watch.

May import ``reoptimize.train``, ``reoptimize.onnx``, ``reoptimize.registry`` and ``reoptimize.tasks``.
"""
