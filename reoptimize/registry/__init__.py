"""Model registries: the :class:`~reoptimize.registry.registry.Registry` protocol, its value types
and errors, and one backend per module, chosen by kind in :mod:`reoptimize.registry.backends`.

May import ``reoptimize.failpoints`` only; everything else in ``reoptimize`` (and the server) may import it.
"""
