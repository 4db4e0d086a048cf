"""The built-in model's zero-shot bridge: image features to text through ImageNet's 1000 classes, no pairs.

    texts.py    the classes (and WordNet hypernyms) as text embeddings, and the text towers as embedders
    bridges.py  the bridge's mapper modules, how they are assembled, and the constants chosen for v1 and v2
"""
