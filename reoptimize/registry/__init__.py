"""Model registries: the versions of each model with hashed manifests, and its production pointer.

May import ``reoptimize.failpoints`` only; everything else in ``reoptimize`` (and the server) may import it.
"""
