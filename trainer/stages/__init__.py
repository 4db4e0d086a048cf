"""The three stages of METHOD.md and the loop they share.

    protocol.py     Stage: what every stage gives the loop (name, model, batches, validation, hand-on)
    loop.py         fit(stage): AdamW, warmup + cosine, label-aware batches, DDP, checkpoints, resume
    semantic.py     the text and image stages (SupCon on one tower, so same-meaning inputs cluster)
    mapper.py       the shared-space stage (two mappers on frozen features, the chosen objective)
    features.py     where a stage's encoder features come from: the base bundle's cache, or a tuned tower
    checkpoint.py   a run's resumable state in one file
    distributed.py  data parallel plumbing under torchrun
"""
