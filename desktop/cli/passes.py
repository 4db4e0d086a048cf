"""The indexing and the passes after it (text in photos, faces) on the command line, each with a tqdm bar on stderr."""

from __future__ import annotations

import sys
import threading

from tqdm import tqdm

from models.display import plural, printable, printable_path


def run_text_pass(library) -> None:
    """Read the text printed in the photos not read yet, with a tqdm bar; Ctrl+C stops after the photo in hand."""
    progress = run_pass(library.text_pass().run, "reading text", lambda p: {"with_text": p.with_text})
    if progress is not None and progress.total:
        print(f"text {progress.phase}: {progress.done} photos read, text found in {progress.with_text}, "
              f"{progress.failed} could not be read")


def run_pass(run, desc: str, postfix):
    """Run a pass after indexing (`run(cancel)`, a generator of PassProgress) with a tqdm bar on stderr,
    `postfix(progress)` beside it; Ctrl+C stops after the photo in hand. Returns the last progress."""
    cancel = threading.Event()
    bar = tqdm(total=0, unit="photo", desc=desc, file=sys.stderr, dynamic_ncols=True)
    progress = None
    try:
        for progress in run(cancel):
            bar.total, bar.n = progress.total, progress.done
            bar.set_postfix(**postfix(progress), refresh=False)
            bar.refresh()
    except BaseException as exc:
        bar.leave = False
        if isinstance(exc, KeyboardInterrupt):
            cancel.set()
        raise
    finally:
        bar.close()
    return progress


def run_index(library, folder_ids: list[int] | None) -> None:
    """Index with a tqdm bar on stderr; Ctrl+C stops after committing what is decoded."""
    cancel = threading.Event()
    bar = tqdm(total=0, unit="photo", desc="indexing", file=sys.stderr, dynamic_ncols=True)
    progress = None
    try:
        for progress in library.indexer().run(folder_ids, cancel):
            bar.total = progress.total
            bar.n = progress.done
            bar.set_postfix(failed=progress.failed, reused=progress.reused, refresh=False)
            bar.refresh()
    except BaseException as exc:
        bar.leave = False  # one error line follows; a half-drawn bar above it says nothing
        if isinstance(exc, KeyboardInterrupt):
            cancel.set()
        raise
    finally:
        bar.close()
    if progress is not None:
        _print_summary(progress)


def _print_summary(progress) -> None:
    print(
        f"{progress.phase}: {progress.encoded} encoded, {progress.reused} recognised (moved/renamed/copied), "
        f"{progress.unchanged} unchanged, {progress.removed} removed, {progress.failed} could not be read"
    )
    for folder in progress.offline_folders:
        print(f"offline (kept, not scanned): {printable_path(folder)}")
    for path, reason in progress.errors[-10:]:
        print(f"  skipped: {printable(reason)}", file=sys.stderr)
    if len(progress.errors) > 10:
        print(f"  ... and {len(progress.errors) - 10} more; see `picsift status`", file=sys.stderr)


def run_face_pass(library) -> None:
    """Find the faces in the photos not read for faces yet and place them in people, with a tqdm bar."""
    progress = run_pass(library.face_pass().run, "finding faces", lambda p: {"faces": p.faces})
    if progress is not None and progress.total:
        print(f"faces {progress.phase}: {progress.done} photos read, {plural(progress.faces, 'face')} found in "
              f"{plural(progress.with_faces, 'photo')}, {plural(progress.new_people, 'new person', 'new people')}, "
              f"{progress.failed} could not be read")
