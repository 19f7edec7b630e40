"""Image tokenizers: four interchangeable VQ families, their fit loop and their evaluation."""
