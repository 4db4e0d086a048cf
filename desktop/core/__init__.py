"""The engine behind the app and the command line: no torch, no Qt.

    library.py                      the engine in one object (catalog, model, vector index, indexer, searcher)
    catalog*.py                     the SQLite catalog: queries, schema and migrations, connection, places and text, collections, faces and people
    vector_index.py, vector_search.py   the HNSW index: its files and catalog sync, the vectors and their search
    scanner.py, indexer.py, watcher.py, index_lock.py   finding, indexing and watching the library folders
    search.py, calibration.py, query_filters.py, duplicates.py   queries, relevance, places and dates in a query, duplicates
    ocr.py, text_pass.py, text_match.py   the text printed in photos: reading it, the second pass, matching it
    faces.py, face_pass.py, people.py   people in photos: finding and embedding faces, the pass, grouping them in people
    photo_pass.py                   what the passes after indexing share: the walk over photos left to read
    file_actions.py, sorting.py     acting on photos: copy, move, trash; sorting unsorted photos by the trained folders
    thumbnails.py, settings.py, demo_library.py, hub_download.py, trainer_process.py
"""
