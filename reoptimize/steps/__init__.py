"""Pipeline steps. A step named ``x`` lives in ``reoptimize/steps/x_step.py`` and exposes ``make_step()``;
``step.py`` holds the protocol and the candidate a step passes on, ``catalog.py`` the pipelines by name.

May import ``reoptimize.gate``, ``reoptimize.train``, ``reoptimize.onnx`` and ``reoptimize.recipes``.
"""
