"""Pipeline steps. A step named ``x`` lives in ``reoptimize/steps/x_step.py`` and exposes ``make_step()``."""
