"""Acting on picked photos with real files and a real catalog: copy, move, trash, and collections that follow the photos."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from engine_fixtures import index_all, write_photos

from desktop.core.file_actions import copy_to, move_to, trash
from desktop.core.search import Query

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def photos(library, tmp_path):
    """An indexed library folder of four photos: path by name."""
    paths = write_photos(tmp_path / "lib", names=("coffee", "chelsea", "rocket", "moon"))
    library.catalog.add_folder(tmp_path / "lib")
    index_all(library)
    return {p.stem: p.resolve() for p in paths}


def test_copying_onto_a_taken_name_keeps_both_files_and_the_copy_keeps_its_dates(library, photos, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "coffee.jpg").write_bytes(b"the user's own file")
    done = list(copy_to([photos["coffee"], photos["chelsea"]], out, library.catalog))
    assert [Path(o.target).name for o in done] == ["coffee (2).jpg", "chelsea.jpg"] and all(o.done for o in done)
    assert (out / "coffee.jpg").read_bytes() == b"the user's own file"
    assert (out / "coffee (2).jpg").read_bytes() == photos["coffee"].read_bytes()
    assert (out / "coffee (2).jpg").stat().st_mtime_ns == photos["coffee"].stat().st_mtime_ns
    assert sorted(p.name for p in out.iterdir()) == ["chelsea.jpg", "coffee (2).jpg", "coffee.jpg"]  # no temporary left
    assert photos["coffee"].exists() and library.catalog.count_files() == 4  # outside the library: not catalogued


def test_moving_within_the_library_updates_the_catalog_at_once_and_the_next_index_reads_nothing(library, photos, tmp_path):
    catalog = library.catalog
    album = catalog.create_collection("Breakfast")
    catalog.add_to_collection(album, [catalog.file_by_path(str(photos["coffee"])).image_id])
    [moved] = move_to([photos["coffee"]], tmp_path / "lib" / "kitchen", catalog)
    target = tmp_path.resolve() / "lib" / "kitchen" / "coffee.jpg"
    assert moved.target == str(target) and target.is_file() and not photos["coffee"].exists()
    assert catalog.file_by_path(str(photos["coffee"])) is None and catalog.file_by_path(str(target)) is not None
    assert [r.path for r in catalog.collection_files(album)] == [str(target)]
    progress = index_all(library)
    assert (progress.encoded, progress.reused, progress.removed, progress.unchanged) == (0, 0, 0, 4)

    [gone] = move_to([target], tmp_path / "elsewhere", catalog)
    assert gone.done and catalog.file_by_path(str(target)) is None and catalog.count_files() == 3
    assert catalog.collections()[0].count == 0  # out of the library: out of the listing, still in the album


def test_trash_sends_photos_to_the_users_trash_and_out_of_the_catalog(library, photos, user_trash):
    done = list(trash([photos["rocket"], photos["rocket"].with_name("never-was.jpg")], library.catalog))
    assert done[0].done and not photos["rocket"].exists()
    assert (user_trash / "files" / "rocket.jpg").read_bytes()[:2] == b"\xff\xd8"  # restorable, whole
    assert (user_trash / "info" / "rocket.jpg.trashinfo").is_file()
    assert library.catalog.file_by_path(str(photos["rocket"])) is None and library.catalog.count_files() == 3
    assert not done[1].done and "never-was.jpg: not sent to the trash (No such file or directory)" in done[1].error


_COPY_INTO_READ_ONLY = """
import json, sys
from desktop.core.file_actions import copy_to
print(json.dumps([[o.source, o.target, o.error] for o in copy_to(sys.argv[2:], sys.argv[1])]))
"""


def test_a_read_only_destination_is_reported_for_each_file_and_the_run_goes_on(tmp_path):
    sources = write_photos(tmp_path / "src", names=("coffee", "moon"))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    # root writes anywhere; without these powers a read-only folder refuses root too
    powers = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"] if os.geteuid() == 0 else []
    if powers and not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: a read-only folder cannot refuse this process")
    run = subprocess.run([*powers, sys.executable, "-c", _COPY_INTO_READ_ONLY, str(locked), *map(str, sources)],
                         capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    locked.chmod(0o755)
    assert run.returncode == 0, run.stderr
    outcomes = json.loads(run.stdout)
    assert [(target, error) for _, target, error in outcomes] == [
        (None, f"{source}: not copied (Permission denied in {locked.resolve()})") for source in sources
    ]
    assert list(locked.iterdir()) == []


_ONTO_A_SMALL_DISK = """
import json, os, sys
from pathlib import Path
from desktop.core.file_actions import copy_to, move_to
from models.errors import DiskFullError
disk, first, *rest = sys.argv[1:]
[moved] = move_to([first], Path(disk) / "moved")
copied, error = [], None
try:
    for outcome in copy_to(rest, disk):
        copied.append(outcome.target)
except DiskFullError as exc:
    error = str(exc)
print(json.dumps({"moved": moved.target, "original_left": os.path.exists(first), "copied": copied, "error": error,
                  "on_disk": sorted(os.listdir(disk))}))
"""


def test_a_move_onto_another_disk_copies_then_removes_and_a_full_disk_stops_the_copies_cleanly(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    can_mount = ["unshare", "-rm", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)]
    if not shutil.which("unshare") or subprocess.run(can_mount, capture_output=True).returncode:
        pytest.skip("no private mount namespace here to make a small disk in")
    sources = write_photos(tmp_path / "src", names=("coffee", "chelsea", "rocket", "moon", "coins", "brick"))
    sizes = [p.stat().st_size for p in sources]
    script = f'mount -t tmpfs -o size={sizes[0] + sizes[1] + 16384} tmpfs {disk} && {sys.executable} -c "$0" "$@"'
    run = subprocess.run(["unshare", "-rm", "sh", "-c", script, _ONTO_A_SMALL_DISK, str(disk), *map(str, sources)],
                         capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert run.returncode == 0, run.stderr
    outcome = json.loads(run.stdout)
    assert outcome["moved"] == str(disk / "moved" / "coffee.jpg") and not outcome["original_left"]
    assert outcome["error"] and "is full" in outcome["error"] and 0 < len(outcome["copied"]) < 5
    assert outcome["on_disk"] == sorted(["moved", *(Path(p).name for p in outcome["copied"])])  # no half copy left


def test_a_photo_stays_in_its_collection_when_renamed_outside_picsift_and_the_collection_can_be_searched(library, photos):
    catalog = library.catalog
    album = catalog.create_collection("Space")
    ids = {name: catalog.file_by_path(str(path)).image_id for name, path in photos.items()}
    assert catalog.add_to_collection(album, [ids["rocket"], ids["moon"], ids["rocket"]]) == 2
    renamed = photos["rocket"].with_name("launch day.jpg")
    photos["rocket"].rename(renamed)
    assert index_all(library).reused == 1
    assert sorted(r.path for r in catalog.collection_files(album)) == sorted([str(renamed), str(photos["moon"])])

    within = library.searcher().search(Query(texts=(("a cup of coffee", 1.0),), k=10, collection=album))
    assert {r.image_id for r in within} == {ids["rocket"], ids["moon"]}
    assert {r.path for r in library.searcher().search(Query(collection=album))} == {str(renamed), str(photos["moon"])}
    assert catalog.remove_from_collection(album, [ids["moon"]]) == 1
    assert [(c.name, c.count, c.query) for c in catalog.collections()] == [("Space", 1, None)]


def test_the_command_line_saves_searches_as_collections_searches_within_them_and_copies_results(installed_builtin, tmp_path, capsys):
    from desktop.cli import main

    write_photos(tmp_path / "lib", names=("coffee", "chelsea", "rocket"))
    lib = (tmp_path / "lib").resolve()
    assert main(["index", str(lib), "--no-text"]) == 0
    capsys.readouterr()
    assert main(["search", "a cup of coffee", "-k", "2", "--all", "--save-as", "Mornings"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "saved 2 photos as the collection 'Mornings'"
    assert main(["collection", "create", "Space"]) == 0
    assert main(["collection", "add", "Space", str(lib / "rocket.jpg")]) == 0
    assert main(["collection", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == ["Mornings  2 photos  (a saved search)", "Space  1 photo"]
    assert main(["collection", "show", "mornings", "--json"]) == 0  # names match whatever their case
    shown = json.loads(capsys.readouterr().out)
    assert shown["query"] == {"text": ["a cup of coffee"], "k": 2} and len(shown["files"]) == 2

    assert main(["search", "a cup of coffee", "--all", "--collection", "Space"]) == 0
    assert [line.split()[-1] for line in capsys.readouterr().out.splitlines()] == [str(lib / "rocket.jpg")]
    out = tmp_path / "picked"
    for _ in range(2):
        assert main(["search", "--collection", "Space", "--copy-to", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"copied {lib / 'rocket.jpg'} -> {out.resolve() / 'rocket (2).jpg'}" in lines
    assert lines[-1] == f"1 photo copied to {out}"
    assert main(["collection", "remove", "Space", str(lib / "rocket.jpg")]) == 0
    assert main(["collection", "delete", "Space"]) == 0
    assert main(["collection", "show", "Space"]) == 1
    assert "there is no collection named 'Space'" in capsys.readouterr().err
    assert main(["collection", "create", "mornings"]) == 1
    assert "a collection named 'mornings' exists already" in capsys.readouterr().err
