"""The PySide6 user interface: adapts desktop.core, never imports torch, runs the trainer as a process.

    app.py, preflight.py            start-up: the Qt checks, the window, the built-in model
    main_window.py, window_*.py     the window: its widgets and the search, library, model, text-pass, face-pass (window_passes: what they
                                    share), folder-watch, collections, feedback and people controllers
    people_view.py                  the People dock's tiles, the faces dialog of a split, face crops
    results.py, preview.py, filter_chips.py, library_panel.py   the grid, the preview, query chips and the place list, folders
    result_actions.py               the Photos menu: copy, move, trash, open, show, copy paths of the picked results
    workers.py, thumbnail_loader.py   the one way from another thread to the GUI thread; thumbnails
    trainer_run.py, dialogs.py, fine_tune.py, get_model.py   trainer processes and the dialogs that run them
    sort_dialog.py, sort_panel.py, sort_review.py, sort_jobs.py   sorting unsorted photos: the dialog, its review, its jobs
    error_log.py                    bugs logged with their tracebacks, one line shown
"""
