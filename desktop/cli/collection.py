"""`picsift collection ...` and what `picsift search` does with its results: --collection, --save-as, --copy-to, --move-to."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from desktop.cli.library import print_json
from models.display import plural, printable, printable_path
from models.errors import PicsiftError


def add_search_options(search: argparse.ArgumentParser) -> None:
    """The options of `picsift search` that narrow it to a collection or act on its results (those shown)."""
    search.add_argument("--collection", metavar="NAME", help="only photos in this collection")
    search.add_argument("--save-as", metavar="NAME", help="save the results shown as a new collection (with the query)")
    action = search.add_mutually_exclusive_group()
    action.add_argument("--copy-to", metavar="DIR", help="copy the results shown into this folder (names taken get \" (2)\")")
    action.add_argument("--move-to", metavar="DIR", help="move the results shown into this folder (names taken get \" (2)\")")


def within(query, args: argparse.Namespace, catalog):
    """The query narrowed to --collection NAME, when given."""
    if not args.collection:
        return query
    return dataclasses.replace(query, collection=catalog.collection_named(args.collection).id)


def act_on(results: list, args: argparse.Namespace, catalog) -> int:
    """--save-as, then --copy-to or --move-to, on the results shown; exit status 1 when a file could not be done."""
    if args.save_as:
        collection_id = catalog.create_collection(args.save_as, _saved_query(args))
        added = catalog.add_to_collection(collection_id, (r.image_id for r in results))
        print(f"saved {plural(added, 'photo')} as the collection {printable(args.save_as)!r}", file=_report_stream(args))
    folder = args.copy_to or args.move_to
    if not folder:
        return 0
    from desktop.core import file_actions

    act = file_actions.copy_to if args.copy_to else file_actions.move_to
    paths = list(dict.fromkeys(r.path for r in results))
    return report(act(paths, folder, catalog), "copied" if args.copy_to else "moved", folder, args)


def report(outcomes, verb: str, folder: str, args: argparse.Namespace) -> int:
    """One line per file done ("copied A -> B"), one per file not done on stderr, then the count."""
    out = _report_stream(args)
    done = failed = 0
    for outcome in outcomes:
        if outcome.done:
            done += 1
            print(f"{verb} {printable_path(outcome.source)} -> {printable_path(outcome.target)}", file=out)
        else:
            failed += 1
            print(f"  {printable(outcome.error)}", file=sys.stderr)
    print(f"{plural(done, 'photo')} {verb} to {printable_path(folder)}" + (f", {failed} could not be" if failed else ""), file=out)
    return 1 if failed else 0


def _report_stream(args: argparse.Namespace):
    return sys.stderr if getattr(args, "json", False) else sys.stdout  # --json: stdout stays one JSON document


def _saved_query(args: argparse.Namespace) -> dict:
    """The search's own words, to run it again later (what was given of them)."""
    words = {"text": args.text, "not": args.not_text, "image": args.image, "not_image": args.not_image,
             "folder": args.folder, "from": args.date_from, "to": args.date_to, "place": args.place,
             "has_text": args.has_text, "person": args.person, "collection": args.collection, "k": args.k}
    return {key: value for key, value in words.items() if value not in (None, [], False)}


# --- picsift collection ... ---------------------------------------------------------------------


def _catalog():
    from desktop.core.catalog import Catalog

    return Catalog()


def _image_ids(catalog, paths: list[str]) -> list[int]:
    """The images of library photos named by path; refuses, before any change, a path not in the library."""
    ids = []
    for path in paths:
        record = catalog.file_by_path(str(Path(path).resolve()))
        if record is None:
            raise PicsiftError(f"{path}: not a photo of the library (index its folder first: `picsift index FOLDER`)")
        ids.append(record.image_id)
    return ids


def _list(args: argparse.Namespace) -> None:
    with _catalog() as catalog:
        found = catalog.collections()
    if args.json:
        print_json([dataclasses.asdict(c) for c in found])
        return
    for c in found:
        print(f"{printable(c.name)}  {plural(c.count, 'photo')}" + ("  (a saved search)" if c.query else ""))
    if not found:
        print("no collections yet; `picsift collection create NAME` or `picsift search ... --save-as NAME` makes one")


def _create(args: argparse.Namespace) -> None:
    with _catalog() as catalog:
        catalog.create_collection(args.name)
    print(f"created the collection {printable(args.name)!r}")


def _add(args: argparse.Namespace) -> None:
    with _catalog() as catalog:
        collection = catalog.collection_named(args.name)
        added = catalog.add_to_collection(collection.id, _image_ids(catalog, args.paths))
    print(f"added {plural(added, 'photo')} to {printable(collection.name)!r}")


def _remove(args: argparse.Namespace) -> None:
    with _catalog() as catalog:
        collection = catalog.collection_named(args.name)
        removed = catalog.remove_from_collection(collection.id, _image_ids(catalog, args.paths))
    print(f"took {plural(removed, 'photo')} out of {printable(collection.name)!r} (the files stay where they are)")


def _show(args: argparse.Namespace) -> None:
    with _catalog() as catalog:
        collection = catalog.collection_named(args.name)
        files = catalog.collection_files(collection.id)
    if args.json:
        print_json({"name": collection.name, "created_at": collection.created_at, "query": collection.query,
                    "files": [dataclasses.asdict(f) for f in files]})
        return
    for record in files:
        print(printable_path(record.path))
    if not files:
        print(f"the collection {printable(collection.name)!r} has no photos in the library", file=sys.stderr)


def _rename(args: argparse.Namespace) -> None:
    with _catalog() as catalog:
        catalog.rename_collection(catalog.collection_named(args.name).id, args.new_name)
    print(f"renamed the collection {printable(args.name)!r} to {printable(args.new_name)!r}")


def _delete(args: argparse.Namespace) -> None:
    with _catalog() as catalog:
        catalog.delete_collection(catalog.collection_named(args.name).id)
    print(f"deleted the collection {printable(args.name)!r} (its photos are untouched)")


def add_parsers(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("collection", help="collections (albums): list, create, add, remove, show, rename, delete")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="every collection with its number of photos")
    listing.add_argument("--json", action="store_true", help="print JSON [{id, name, created_at, query, count}]")
    listing.set_defaults(run=_list)
    for name, run, help_text in (("create", _create, "a new, empty collection"), ("delete", _delete, "forget a collection (photos untouched)")):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("name")
        action.set_defaults(run=run)
    for name, run, help_text in (("add", _add, "put library photos in a collection"),
                                 ("remove", _remove, "take photos out of a collection (files untouched)")):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("name")
        action.add_argument("paths", nargs="+", metavar="PATH")
        action.set_defaults(run=run)
    show = actions.add_parser("show", help="the paths of a collection's photos, newest first")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print JSON {name, created_at, query, files: [{path, ...}]}")
    show.set_defaults(run=_show)
    rename = actions.add_parser("rename", help="give a collection another name")
    rename.add_argument("name")
    rename.add_argument("new_name")
    rename.set_defaults(run=_rename)
