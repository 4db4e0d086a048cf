"""Training, evaluation and export of picsift models (torch + transformers; no Qt).

    cli.py, __main__.py  the command line the app runs as a separate process (`python -m trainer ...`)
    train.py             a training run end to end: data -> base model -> stages -> export -> test -> install
    base.py              the model a run starts from (a TowerPair and an ONNX bundle of the same model)
    progress.py          how a run reports (bars or JSON lines) and is cancelled
    report.py            what a run leaves beside its bundle (report.json, curves.png, provenance)
    data/                sources, train/val/test splits, label-aware batches, the feature cache
    stages/              the text, image and mapper stages, their Stage protocol and the loop they share
    losses/              the objectives, one per module
    encoders/            the model in torch: towers, mappers, the TowerPair
    zero_shot/           the built-in model's bridge through ImageNet's classes
    evaluation/          retrieval metrics and a split's figures
    export/              everything that writes a bundle: export, the built-in model, transformers conversion
"""
