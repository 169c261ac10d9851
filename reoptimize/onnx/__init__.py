"""ONNX-only work, never torch: running a model (shared with the server), quantization, and small exact
graph rewrites.

Imports nothing else of ours.
"""
