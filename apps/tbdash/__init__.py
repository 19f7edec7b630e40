"""View helpers for the tokbench dashboard (`apps/dashboard.py`).

Everything here is presentation: reading run folders goes through `tokbench.runs`, tokenizers through
`tokbench.load_tokenizer`, and metrics come from what the library wrote into the run folders. Nothing here
writes a run folder.
"""
