"""Pipeline steps. A step named ``x`` lives in ``reoptimize/steps/x_step.py``, exposes ``make_step()``
and is listed in ``catalog.STEPS``; ``step.py`` holds the protocol, the candidate a step passes on and
what a step may need, ``catalog.py`` the steps and the one pipeline grammar.

May import ``reoptimize.families``, ``reoptimize.gate``, ``reoptimize.train``, ``reoptimize.onnx``,
``reoptimize.tasks`` and ``reoptimize.recipes``.
"""
