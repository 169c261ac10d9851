"""Built-in recipes (model factories) that a config can name as ``reoptimize.recipes.<module>:<function>``.

Import nothing else of ours.
"""
