"""One check of one model: serving signals, drift and its impact, data quality, performance from
labels, CBPE estimates, the reference profiles a check reads, and one lock per model.

May import ``monitor.sources``, ``monitor.drift``, ``monitor.state``, the top-level modules of
``monitor``, and ``reoptimize``'s registry, ONNX model and process exit.
"""
