"""Where data comes from. Each loader returns plain iterables and knows nothing of tokenizers or models."""
