"""Encoder towers the trainer can fine-tune and export."""
