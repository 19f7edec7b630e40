"""Text tokenizers: BPE training (plain and variants), one loading interface, evaluation and inspection."""
