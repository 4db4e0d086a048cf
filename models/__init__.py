"""Model bundles and the inference runtime: numpy, onnxruntime, tokenizers, Pillow; no torch, no Qt."""
