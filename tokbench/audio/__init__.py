"""Audio tokenizers: a residual-VQ codec, its training and its rate-distortion evaluation."""
