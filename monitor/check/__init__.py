"""One check of one model: serving signals, drift and its impact, data quality, performance from labels, CBPE estimates, and the reference profiles a check reads.

May import ``monitor.sources``, ``monitor.drift``, ``monitor.state``, the top-level modules of ``monitor``, and ``reoptimize``'s registry and ONNX model."""
