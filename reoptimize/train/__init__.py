"""The torch side: recipes, training with early stopping and clipping, fine-tuning, distillation losses,
augmentation, training tables and settings, safetensors weights, and export to ONNX checked against torch.

May import ``reoptimize.onnx`` and ``reoptimize.tasks`` only. torch is imported inside the functions that need it.
"""
