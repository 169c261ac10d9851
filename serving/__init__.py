"""The reference ONNX Runtime model server, and instrumentation for any Python model server."""
