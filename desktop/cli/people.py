"""`picsift people ...` (the people found in the photos: list, show, name, merge, split, not a person, forget all),
`--person NAME` of search, and the face counts of `picsift status`."""

from __future__ import annotations

import argparse

from models.display import plural, printable, printable_path
from models.errors import PicsiftError


def chosen(args: argparse.Namespace, catalog) -> list[tuple[int, str]]:
    """(id, label) of each --person given (a name or a number from `picsift people list`)."""
    from desktop.core.people import person_by_reference

    found = [person_by_reference(catalog, reference) for reference in getattr(args, "person", [])]
    labels = {p.id: p.label for p in catalog.people(include_hidden=True)}
    return [(pid, labels.get(pid, f"person {pid}")) for pid in found]


def face_counts(catalog) -> dict:
    """What `picsift status` says of faces: photos still to read, faces and photos with faces, people and named ones."""
    faces, photos = catalog.count_faces()
    listed = catalog.people()
    return {"unread": catalog.count_faces_unread(), "faces": faces, "photos": photos,
            "people": len(listed), "named": sum(p.name is not None for p in listed)}


def status_line(counts: dict) -> str:
    """The faces line of `picsift status`."""
    if not counts["faces"] and counts["unread"]:
        return (f"people in photos: not looked for in {plural(counts['unread'], 'photo')} "
                "(`picsift index --faces` finds them; face data stays in the catalog)")
    line = (f"people in photos: {plural(counts['faces'], 'face')} in {plural(counts['photos'], 'photo')}, "
            f"{plural(counts['people'], 'person', 'people')} ({counts['named']} named)")
    return line + (f", {counts['unread']} photos still to read (`picsift index --faces`)" if counts["unread"] else ", every photo read")


def _catalog():
    from desktop.core.catalog import Catalog

    return Catalog()


def _person(catalog, reference: str) -> int:
    from desktop.core.people import person_by_reference

    return person_by_reference(catalog, reference)


def _list(args: argparse.Namespace) -> None:
    from desktop.cli.library import print_json

    listed = _catalog().people(include_hidden=args.all)
    if args.json:
        print_json([{"id": p.id, "name": p.name, "photos": p.photos, "faces": p.faces, "not_a_person": p.hidden} for p in listed])
        return
    for p in listed:
        mark = "  (not a person)" if p.hidden else ""
        print(f"{p.id:>5}  {printable(p.label)}  {plural(p.photos, 'photo')}{mark}")
    if not listed:
        print("no people found yet; `picsift index --faces` looks for them")


def _show(args: argparse.Namespace) -> None:
    from desktop.cli.library import print_json

    catalog = _catalog()
    person = _person(catalog, args.person)
    faces = catalog.faces_of_person(person)
    files = catalog.files_for_images(f.image_id for f in faces)
    rows = [(face, record.path) for face in faces for record in files.get(face.image_id, [])[:1]]
    if args.json:
        print_json([{"face": face.id, "path": path, "box": face.box, "score": round(face.score, 3)} for face, path in rows])
        return
    for face, path in rows:
        print(f"{face.id:>6}  {printable_path(path)}")


def _name(args: argparse.Namespace) -> None:
    catalog = _catalog()
    person = _person(catalog, args.person)
    catalog.name_person(person, args.name)
    print(f"person {person} is {printable(args.name.strip())!r}")


def _merge(args: argparse.Namespace) -> None:
    catalog = _catalog()
    keep, other = _person(catalog, args.person), _person(catalog, args.other)
    catalog.merge_people(keep, other)
    print(f"merged person {other} into person {keep}")


def _split(args: argparse.Namespace) -> None:
    person = _catalog().split_faces(args.faces)
    print(f"{plural(len(set(args.faces)), 'face')} moved to a new person, {person} (`picsift people name {person} NAME`)")


def _not_a_person(args: argparse.Namespace) -> None:
    catalog = _catalog()
    person = _person(catalog, args.person)
    catalog.set_not_a_person(person, not args.undo)
    print(f"person {person} is {'a person again' if args.undo else 'not a person: left out of the list and of search'}")


def _forget_all(args: argparse.Namespace) -> None:
    if not args.yes:
        raise PicsiftError("this deletes every face found, every person and every name given; run it again with --yes")
    _catalog().forget_faces()
    print("all face data deleted (faces, people, names); `picsift index --faces` would look for faces again")


def add_parsers(commands: argparse._SubParsersAction) -> None:
    people = commands.add_parser("people", help="the people found in the photos (`picsift index --faces`): list, name, merge, split")
    actions = people.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the people, most photos first, with their numbers")
    listing.add_argument("--all", action="store_true", help="also those marked not a person")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_list)
    show = actions.add_parser("show", help="a person's faces: face number and photo, best first")
    show.add_argument("person", help="a name or a number from `picsift people list`")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=_show)
    name = actions.add_parser("name", help="give a person a name (then `picsift search --person NAME` or \"NAME at the beach\")")
    name.add_argument("person")
    name.add_argument("name")
    name.set_defaults(run=_name)
    merge = actions.add_parser("merge", help="the same person twice: the second's faces join the first")
    merge.add_argument("person")
    merge.add_argument("other")
    merge.set_defaults(run=_merge)
    split = actions.add_parser("split", help="move wrongly grouped faces (numbers from `picsift people show`) to a new person")
    split.add_argument("faces", nargs="+", type=int, metavar="FACE")
    split.set_defaults(run=_split)
    hide = actions.add_parser("not-a-person", help="a statue, a poster: leave it out of the list and of search")
    hide.add_argument("person")
    hide.add_argument("--undo", action="store_true", help="a person after all")
    hide.set_defaults(run=_not_a_person)
    forget = actions.add_parser("forget-all", help="delete all face data: faces, people and their names")
    forget.add_argument("--yes", action="store_true", help="yes, delete it")
    forget.set_defaults(run=_forget_all)
