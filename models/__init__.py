"""Model bundles, the inference runtime and what both the app and the trainer read: numpy, onnxruntime, tokenizers, Pillow; no torch, no Qt.

    manifest.py, bundle.py, registry.py   the bundle format, its verification, the installed bundles
    runtime.py, preprocess.py, text.py    ONNX Runtime inference of a bundle's towers and mapper
    photo_reader.py, photo_files.py       the one photo reader (formats, EXIF, orientation) and which files count
    photo_gps.py, places.py, place_names.py   EXIF GPS, reverse geocoding and place names, offline (GeoNames)
    hub_catalog.py                        the curated hub models (data/hub_models.json) and their costs here
    trainer_protocol.py                   the app-trainer contract: event kinds, tasks, exit codes
    errors.py, paths.py, atomic.py, display.py   one errors module, one paths module, atomic writes, printing
"""
