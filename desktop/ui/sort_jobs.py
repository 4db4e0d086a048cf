"""The sorting dialog's work off the GUI thread, as generators for GeneratorWorker, and the lines that sum it up.

Each job opens its own catalog connection (closed when it ends) and shares the window's model, as the
window's other workers do; none of them touches Qt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop.core import file_actions
from desktop.core.catalog import Catalog, FileRecord
from desktop.core.library import Library
from desktop.core.sorting import Suggestion, UndoResult, file_photos, last_batch, learn_labels, suggest, trained_root, undo_last
from desktop.ui.result_actions import summary
from models.display import plural, printable_path


@dataclass(frozen=True)
class Suggested:
    """What the suggestions job found: the labels of `root` and a suggestion for each photo outside it."""

    root: Path
    model: str  # the model that made them
    labels: tuple[str, ...]
    suggestions: list[Suggestion]
    records: dict[str, FileRecord]  # path -> its catalog record (for the thumbnail and the name)


@dataclass(frozen=True)
class NeedRoot:
    """The active model was not fine-tuned on labelled folders still on disk, and no root was given."""

    model: str


def suggestions(library: Library, root: Path | None, cancel):
    """Yields what it is doing (str), then a Suggested, or a NeedRoot; nothing more once `cancel` is set."""
    yield "Loading the model..."
    runtime = library.runtime
    root = root or trained_root(runtime)
    if root is None:
        yield NeedRoot(runtime.manifest.name)
        return
    catalog = Catalog(library.catalog.path)
    try:
        yield f"Learning the labels from the photos in {printable_path(root)}..."
        labels = learn_labels(catalog, runtime, root)
        if cancel.is_set():
            return
        yield f"Finding a label for each photo outside {printable_path(root)}..."
        found = suggest(catalog, runtime, labels)
        if cancel.is_set():
            return
        records = {r.path: r for rs in catalog.files_for_images({s.image_id for s in found}).values() for r in rs}
        yield Suggested(Path(labels.root), runtime.manifest.name, labels.names, found, records)
    finally:
        catalog.close()


def filing(accepted: list[tuple[str, str]], root: Path, action: str, catalog_path: Path, cancel,
           on_filed: Callable[[file_actions.FileOutcome], None]):
    """Yields the Batch file_photos filed, telling `on_filed` of each photo as it goes."""
    catalog = Catalog(catalog_path)
    try:
        yield file_photos(accepted, root, action, catalog, cancel, on_filed)
    finally:
        catalog.close()


def undoing(catalog_path: Path, cancel):
    """Yields (the undone batch's action or None, undo_last's UndoResult or None)."""
    catalog = Catalog(catalog_path)
    try:
        batch = last_batch()
        yield (batch.action if batch else None, undo_last(catalog))
    finally:
        catalog.close()


def filed_line(action: str, outcomes: list[file_actions.FileOutcome], asked: int, root: Path) -> str:
    """"Copied 5 photos to ROOT (cats 3, coffee 2)" and what could not be done, in result_actions' words."""
    into = Counter(Path(o.target).parent.name for o in outcomes if o.done and o.target)
    where = f"{root} ({', '.join(f'{label} {count}' for label, count in into.items())})" if into else str(root)
    return summary(action, outcomes, asked, where)


def undone_line(action: str | None, result: UndoResult | None) -> str:
    """"Undid the last batch: deleted 3 copies" or "moved 3 photos back", and what it left, with why."""
    if result is None:
        return "Nothing to undo."
    count = len(result.undone)
    did = f"deleted {plural(count, 'copy', 'copies')}" if action == file_actions.COPY else f"moved {plural(count, 'photo')} back"
    line = f"Undid the last batch: {did}"
    if result.left:
        path, why = result.left[0]
        more = f" (and {len(result.left) - 1} more)" if len(result.left) > 1 else ""
        line += f"; left {plural(len(result.left), 'file')} as it was: {printable_path(path)}: {why}{more}"
    return line
