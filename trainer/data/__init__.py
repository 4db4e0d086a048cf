"""A run's data (numpy and Pillow only, no torch, so the app's tests can write Fashion-MNIST folders).

    sources.py        images, texts and which go together, loaded from folders, caption files or Fashion-MNIST
    splits.py         one source cut into train/val/test (the Splits a run trains, selects and tests on)
    sampling.py       batches with several items of each label, the same on every rank, sharded across ranks
    feature_cache.py  frozen-encoder features cached on disk, so a mapper never decodes an image twice
"""
