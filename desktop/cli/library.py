"""`picsift index|watch|search|similar|duplicates|status|folders|repair|compact`: the engine from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from datetime import date

from tqdm import tqdm

from desktop.cli import people
from desktop.cli.args import check_query_arguments, cosine_threshold, finite_float, iso_date, positive_int
from desktop.cli.passes import run_face_pass, run_index, run_text_pass
from models.display import file_size, fixed, plural, printable, printable_path
from models.errors import PicsiftError

# The engine is imported inside each command, so `picsift model list` and `--help` start fast.


def _library():
    from desktop.cli.model import ensure_default_model
    from desktop.core.library import Library

    ensure_default_model()
    return Library()


def _index(args: argparse.Namespace) -> None:
    library = _library()
    folder_ids = [library.catalog.add_folder(_existing_folder(p)) for p in args.paths] or None
    run_index(library, folder_ids)
    if not args.no_text:
        run_text_pass(library)
    if args.faces:
        run_face_pass(library)


def _watch(args: argparse.Namespace) -> int:
    """Index, then keep indexing what changes in the folders until Ctrl+C (exit 0); one line per batch."""
    import signal

    from desktop.core.watcher import LibraryWatcher, batch_changed

    # Ctrl+C is the way out: a process started with SIGINT ignored (a background job of a script; Python then keeps
    # SIG_IGN) would otherwise never stop on it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    library = _library()
    folder_ids = [library.catalog.add_folder(_existing_folder(p)) for p in args.paths] or None
    try:
        run_index(library, folder_ids)
    except KeyboardInterrupt:
        print("stopped")
        return 0

    def show(report) -> None:
        if report.kind == "indexing":
            return
        if report.kind != "indexed" or batch_changed(report.progress):
            print(printable(report.message) + (" (Ctrl+C stops)" if report.kind == "watching" else ""), flush=True)
        for path, reason in (report.progress.errors[-10:] if report.progress else []):
            print(f"  skipped: {printable(reason)}", file=sys.stderr, flush=True)

    watcher = LibraryWatcher(library, show, folder_ids)
    watcher.start()
    try:
        while not watcher.wait(1.0):  # a timed wait: on Windows Ctrl+C interrupts only between waits
            pass
    except KeyboardInterrupt:
        watcher.stop()
        print("stopped watching")
        return 0
    return 1  # the watcher stopped on its own: a bug, already reported


def _existing_folder(path: str) -> str:
    if not os.path.isdir(path):
        raise PicsiftError(f"{path}: no such folder")
    return path


def _query(args: argparse.Namespace, catalog):
    """The Query of the arguments, and the filters found in the texts (people, places, dates) as chips."""
    from desktop.core.query_filters import parse_query
    from desktop.core.search import Query

    named = catalog.named_people() if args.text else []
    parsed = [parse_query(t, date.today(), named) for t in args.text]
    texts = [(p.semantic_text, 1.0) for p in parsed if p.semantic_text] + [(t, -args.negative_weight) for t in args.not_text]
    images = [(p, args.image_weight) for p in args.image] + [(p, -args.negative_weight) for p in args.not_image]
    chosen = [_place(name) for name in args.place]
    places = tuple(f for p in parsed for f in p.place_filters) + tuple(chosen)
    dates = next((p.date_filter for p in parsed if p.date_filter), None)
    filters = [asdict(c) for p in parsed for c in p.chips] + [{"kind": "place", "label": f.place.label, "value": name}
                                                              for f, name in zip(chosen, args.place)]
    chosen_people = people.chosen(args, catalog)
    persons = tuple(dict.fromkeys([pid for p in parsed for pid in p.people] + [pid for pid, _ in chosen_people]))
    filters += [{"kind": "person", "label": name, "value": f"person:{pid}"} for pid, name in chosen_people]
    query = Query(tuple(texts), tuple(images), k=args.k, folder=args.folder, date_from=args.date_from, date_to=args.date_to,
                  places=places, dates=dates, has_text=args.has_text, people=persons)
    return query, filters


def _place(name: str):
    """--place NAME as a filter (a country, region or city, as typed in a query)."""
    from desktop.core.query_filters import PlaceFilter
    from models import place_names

    found = place_names.lookup(name)
    if found is None:
        raise PicsiftError(f"--place {name}: no country, region or city of that name is known")
    return PlaceFilter(found)


def _search(args: argparse.Namespace) -> int:
    from desktop.cli import collection

    library = _library()
    query, filters = _query(args, library.catalog)
    query = collection.within(query, args, library.catalog)
    if not query.texts and not query.images and not query.filtered:
        raise PicsiftError("the query is only words that describe any photo; say what to look for")
    return collection.act_on(_print_results(library.searcher().search(query), args, filters), args, library.catalog)


def _similar(args: argparse.Namespace) -> None:
    library = _library()
    filters = {"folder": args.folder, "date_from": args.date_from, "date_to": args.date_to,
               "places": tuple(_place(name) for name in args.place), "has_text": args.has_text,
               "people": tuple(pid for pid, _ in people.chosen(args, library.catalog))}
    _print_results(library.searcher().similar(args.path, args.k, **filters), args)


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    from desktop.core.catalog import Catalog

    with Catalog() as catalog:
        check_query_arguments(parser, args, catalog)


def print_json(value) -> None:
    """JSON on stdout. Paths stay the OS's names: json's ASCII escapes write a byte that is not UTF-8
    (a lone surrogate, PEP 383) as `\\udce9`, valid JSON that Python reads back to the same str, so
    `os.fsencode` gives the original bytes (other readers show U+FFFD); controls are escaped too."""
    print(json.dumps(value, indent=2, ensure_ascii=True))


def _print_results(results: list, args: argparse.Namespace, filters: list[dict] = ()) -> list:
    """Relevance and path per line (or JSON); weak matches left out unless --all, their count on stderr;
    the filters read from the query's words first ("filter: place Portugal"). Returns the results shown."""
    from desktop.core.search import matches

    shown, hidden = (results, 0) if args.all else matches(results)
    if args.json:
        print_json({"filters": list(filters), "results": [r.to_dict() for r in shown]})
        return shown
    for chip in filters:
        print(f"filter: {chip['kind']} {printable(chip['label'])}", file=sys.stderr)
    if not results and (filters or any(getattr(args, name, None) for name in ("place", "has_text", "collection", "person"))):
        print("no photo matches these filters")
    elif not results:
        print("no results; is the library indexed? (`picsift index FOLDER`)")
    elif not shown:
        print("no photo matches this query")
    for result in shown:
        print(f"{fixed(result.relevance, 2):>5}  {printable_path(result.path)}")
    if hidden:
        print(f"{plural(hidden, 'weak match', 'weak matches')} hidden (--all shows them)", file=sys.stderr)
    return shown


def _duplicates(args: argparse.Namespace) -> None:
    from desktop.core.duplicates import duplicate_groups

    library = _library()
    bar = tqdm(total=0, unit="photo", desc="comparing", file=sys.stderr, leave=False)

    def progress(done: int, total: int) -> None:
        bar.total, bar.n = total, done
        bar.refresh()

    groups = duplicate_groups(library.catalog, library.runtime.manifest.image_encoder_id, args.threshold, progress)
    bar.close()
    if args.json:
        print_json([[r.path for r in group] for group in groups])
        return
    for number, group in enumerate(groups, 1):
        print(f"group {number} ({plural(len(group), 'file')})")
        for record in group:
            print(f"  {printable_path(record.path)}")
    print(f"{plural(len(groups), 'group')} of near-duplicates")


def _status(args: argparse.Namespace) -> None:
    from desktop.core.catalog import Catalog
    from desktop.core.catalog_compact import catalog_layout

    with Catalog() as catalog:  # closed before anything prints: a `picsift compact` after it finds the catalog free
        counts = catalog.folder_counts()
        folders = [
            {"path": path, "online": os.path.isdir(path), "files": counts[fid][0], "unreadable": counts[fid][1]}
            for fid, path in catalog.folders()
        ]
        errors = [{"path": p, "reason": r} for p, r in catalog.errors()]
        text = {"unread": catalog.count_text_unread(), "with_text": catalog.count_with_text()}
        faces = people.face_counts(catalog)
        files = catalog.count_files()
        layout = catalog_layout(catalog.path)
    if args.json:
        print_json({"files": files, "folders": folders, "errors": errors, "text": text, "faces": faces,
                    "catalog": {**asdict(layout), "compactable": layout.compactable}})
        return
    print(f"{plural(files, 'photo')} indexed in {plural(len(folders), 'folder')}")
    print(f"text in photos: found in {plural(text['with_text'], 'photo')}"
          + (f", {text['unread']} still to read (`picsift index` reads them)" if text["unread"] else ", every photo read"))
    print(people.status_line(faces))
    if layout.compactable:
        print(f"catalog: {file_size(layout.bytes)}; `picsift compact` would make it smaller "
              f"({layout.page_size // 1024} KB pages, {layout.free_fraction:.0%} unused)")
    for folder in folders:
        state = "online" if folder["online"] else "OFFLINE"
        counts = f"{plural(folder['files'], 'photo')}, {folder['unreadable']} unreadable"
        print(f"  {printable_path(folder['path'])}  {counts}, {state}")
    if errors:
        print(f"{plural(len(errors), 'file')} could not be read:")
        for error in errors:
            print(f"  {printable(error['reason'])}")


def _folders(args: argparse.Namespace) -> None:
    from desktop.core.catalog import Catalog

    catalog = Catalog()
    if args.action == "add":
        for path in args.paths:
            catalog.add_folder(_existing_folder(path))
            print(f"added {printable_path(os.path.abspath(path))}; run `picsift index` to index it")
    elif args.action == "remove":
        for path in args.paths:
            if not catalog.remove_folder(path):
                raise PicsiftError(f"{path} is not a library folder; see `picsift folders list`")
            print(f"removed {printable_path(os.path.abspath(path))} from the library (files on disk untouched)")
    else:
        for _, path in catalog.folders():
            print(printable_path(path))


def _add_query_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", type=positive_int, default=20, help="number of results (default 20)")
    parser.add_argument("--json", action="store_true",
                        help="print JSON {filters: [{kind, label, value}], results: [{path, relevance (0..1), matched, "
                             "score (raw cosine), place, has_text, ...}]}, best first")
    parser.add_argument("--all", action="store_true",
                        help="also show weak matches (relevance under 0.5, hidden by default as no match)")
    parser.add_argument("--folder", help="only photos under this folder (inside a library folder)")
    parser.add_argument("--from", dest="date_from", type=iso_date,
                        help="only photos taken on or after this date (YYYY-MM-DD, or YYYY-MM-DDTHH:MM)")
    parser.add_argument("--to", dest="date_to", type=iso_date,
                        help="only photos taken on or before this date (YYYY-MM-DD: the whole day)")
    parser.add_argument("--place", action="append", default=[],
                        help="only photos taken in this country, region or city (repeatable: any of them); "
                             "a place in the query's words works too: \"beach in Portugal\"")
    parser.add_argument("--has-text", action="store_true", help="only photos with text printed in them")
    parser.add_argument("--person", action="append", default=[], metavar="NAME",
                        help="only photos of this person (a name or number from `picsift people list`; repeatable: "
                             "photos with all of them); a named person in the query's words works too: \"Anna at the beach\"")
    parser.set_defaults(check=lambda args: _check(parser, args))


def _repair(args: argparse.Namespace) -> None:
    """Set a damaged catalog aside and rebuild it from the library's photos, folders kept."""
    from desktop.core.catalog import Catalog, catalog_path, set_aside
    from models.errors import CatalogDamagedError

    if catalog_path().exists() and not args.force:
        try:
            with Catalog() as catalog:
                catalog.check_integrity()
        except CatalogDamagedError:
            pass
        else:
            print("the catalog is sound; nothing to repair (--force rebuilds it anyway)")
            return
    if catalog_path().exists():
        print(f"the old catalog was moved to {printable_path(set_aside())}")
    library = _library()
    print(f"rebuilding the catalog from {plural(len(library.catalog.folders()), 'library folder')}")
    run_index(library, None)


def _compact(args: argparse.Namespace) -> None:
    """Rewrite the catalog at its smallest; a spinner with the time so far (VACUUM gives no fraction)."""
    from desktop.core.catalog import catalog_path
    from desktop.core.catalog_compact import catalog_layout, compact

    path = catalog_path()
    if not path.exists():
        raise PicsiftError(f"{printable_path(path)}: there is no catalog here yet; add a folder first")
    before = catalog_layout(path)
    if not before.compactable:
        print(f"the catalog ({file_size(before.bytes)}) is already compact; nothing to do")
        return
    print(f"compacting the catalog ({file_size(before.bytes)}): a few minutes a million photos; Ctrl+C stops it "
          "and leaves the catalog as it was (in the last stage, writing the new file, it finishes first)")
    with tqdm(desc="compacting", bar_format="{desc}: {elapsed}", file=sys.stderr, leave=False) as bar:
        after = compact(path, tick=bar.update)
    print(f"compacted: {file_size(before.bytes)} -> {file_size(after.bytes)}")


def add_parsers(commands: argparse._SubParsersAction) -> None:
    from desktop.cli import collection

    index = commands.add_parser("index", help="add folders to the library and index them (incremental)")
    index.add_argument("paths", nargs="*", help="folders to add; none: re-index every library folder")
    index.add_argument("--no-text", action="store_true",
                       help="skip reading the text printed in photos (OCR, about a second a photo with text; "
                            "the next `picsift index` reads what is left)")
    index.add_argument("--faces", action="store_true",
                       help="then find the faces in the photos not read for faces yet and group them in people (off by "
                            "default: face data is personal; it stays in the catalog; `picsift people forget-all` deletes it)")
    index.set_defaults(run=_index)

    watch = commands.add_parser("watch", help="index, then index what changes in the folders as it happens (until Ctrl+C)")
    watch.add_argument("paths", nargs="*", help="folders to add; none: watch every library folder")
    watch.set_defaults(run=_watch)

    search = commands.add_parser("search", help="search by text, image, or both")
    search.add_argument("text", nargs="*", help="what to look for")
    search.add_argument("--image", action="append", default=[], help="an image to look like (repeatable)")
    search.add_argument("--not", dest="not_text", action="append", default=[], help="text to look less like")
    search.add_argument("--not-image", action="append", default=[], help="an image to look less like")
    search.add_argument("--image-weight", type=finite_float, default=1.0, help="weight of each --image against the text (1.0)")
    search.add_argument("--negative-weight", type=finite_float, default=0.5, help="weight of each --not/--not-image (0.5)")
    _add_query_options(search)
    collection.add_search_options(search)
    search.set_defaults(run=_search)

    similar = commands.add_parser("similar", help="photos like the given one")
    similar.add_argument("path")
    _add_query_options(similar)
    similar.set_defaults(run=_similar)

    duplicates = commands.add_parser("duplicates", help="groups of near-duplicate photos")
    duplicates.add_argument("--threshold", type=cosine_threshold, default=None,
                            help="cosine for 'the same photo', between 0 and 1 (default 0.775, or 0.90 with a model older than instance descriptors)")
    duplicates.add_argument("--json", action="store_true")
    duplicates.set_defaults(run=_duplicates)

    status = commands.add_parser("status", help="folders, counts and files that could not be read")
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=_status)

    repair = commands.add_parser("repair", help="set a damaged catalog aside and rebuild it (folders kept)")
    repair.add_argument("--force", action="store_true", help="rebuild even when the catalog looks sound")
    repair.set_defaults(run=_repair)

    compacting = commands.add_parser("compact", help="rewrite the catalog at its smallest (a catalog made before "
                                     "picsift 16 KB pages, or after many photos were removed); close the app first")
    compacting.set_defaults(run=_compact)

    folders = commands.add_parser("folders", help="list, add or remove library folders")
    folders.add_argument("action", choices=("list", "add", "remove"), nargs="?", default="list")
    folders.add_argument("paths", nargs="*")
    folders.set_defaults(run=_folders)
