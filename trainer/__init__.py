"""Training, evaluation and export of picsift models (torch + transformers; no Qt)."""
