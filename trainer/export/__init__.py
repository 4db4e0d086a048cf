"""Everything that writes a model bundle.

    bundle.py         a TowerPair -> four ONNX graphs, tokenizer and manifest, parity-gated (every export goes here)
    default_model.py  the built-in offline model (packaged encoders + the zero-shot bridge)
    families.py       transformers dual encoders (CLIP, ALIGN, AltCLIP, GroupViT, SigLIP, SigLIP 2) as a TowerPair
    convert.py        a transformers model -> an installed bundle (families.py + bundle.py)
    onnx_text.py      a text tower that is already an ONNX graph reading raw strings
    spm_tokenizer.py  SigLIP's SentencePiece vocabulary as a tokenizers tokenizer.json
"""
