"""ONNX-only work, never torch: running a model (shared with the server), quantization, and small exact
graph rewrites.

May import ``reoptimize.tasks`` only (how a task reads a model's outputs).
"""
