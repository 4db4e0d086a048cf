"""Retrieval evaluation: metrics.py (R@K, MRR, mAP@k in plain numpy) and retrieval.py (a split's figures, both directions)."""
