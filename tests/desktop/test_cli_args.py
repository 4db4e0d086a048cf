"""`picsift` on bad input and odd output: the parser rejects in one line (exit 2), names print safely."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from engine_fixtures import write_photos

from desktop.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _model(installed_builtin):
    """A real model installed: input the parser wrongly lets through reaches the real engine and fails there."""


def _rejected(capsys, argv: list[str]) -> str:
    """Run `picsift ARGV`, expect the parser to refuse it; its one error line."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "Traceback" not in errors[0]
    return errors[0]


@pytest.mark.parametrize("k", ["0", "-5", "2.5", "many"])
def test_k_must_be_a_positive_whole_number(capsys, k):
    line = _rejected(capsys, ["search", "a cat", "-k", k])
    assert line.startswith("picsift search: error: argument -k: ") and repr(k) in line


def test_demo_k_is_checked_the_same_way(capsys):
    assert _rejected(capsys, ["demo", "-k", "0"]).startswith("picsift demo: error: argument -k: ")


@pytest.mark.parametrize("option", ["--from", "--to"])
@pytest.mark.parametrize("value", ["notadate", "2024-13-45", "2024-02-30", ""])
def test_dates_must_be_real_iso_dates(capsys, option, value):
    line = _rejected(capsys, ["search", "a cat", option, value])
    assert f"argument {option}: " in line and "YYYY-MM-DD" in line


def test_dates_and_datetimes_are_read_to_one_comparable_form():
    args = build_parser().parse_args(["search", "x", "--from", "2019-07-01T08:30", "--to", "2019-07-31"])
    assert (args.date_from, args.date_to) == ("2019-07-01T08:30:00", "2019-07-31")


def test_from_after_to_is_an_error(capsys):
    line = _rejected(capsys, ["search", "a cat", "--from", "2024-03-01", "--to", "2024-02-01"])
    assert "argument --to: " in line and "before --from" in line


def test_from_and_to_on_the_same_day_is_fine():
    args = build_parser().parse_args(["similar", "x.jpg", "--from", "2024-03-01T10:00", "--to", "2024-03-01"])
    assert args.date_to == "2024-03-01"


@pytest.mark.parametrize("option", ["--image-weight", "--negative-weight"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "heavy"])
def test_weights_must_be_finite_numbers(capsys, option, value):
    assert f"argument {option}: " in _rejected(capsys, ["search", "a cat", option, value])


@pytest.mark.parametrize("value", ["1.5", "-0.2", "0", "nan"])
def test_duplicate_threshold_must_be_a_cosine_between_0_and_1(capsys, value):
    line = _rejected(capsys, ["duplicates", "--threshold", value])
    assert "argument --threshold: " in line and "between 0 and 1" in line


@pytest.mark.parametrize("argv", [[], [""], ["   "], ["a cat", ""], ["--not", "a dog"]])
def test_an_empty_or_blank_text_query_is_refused_like_no_query(capsys, argv):
    line = _rejected(capsys, ["search", *argv])
    assert line.startswith("picsift search: error: ") and "give a text, --image, or both" in line


def test_a_folder_outside_the_library_is_refused_naming_the_argument(capsys, tmp_path):
    (tmp_path / "photos").mkdir()
    assert main(["folders", "add", str(tmp_path / "photos")]) == 0
    capsys.readouterr()
    line = _rejected(capsys, ["search", "a cat", "--folder", str(tmp_path / "elsewhere")])
    assert "argument --folder: " in line and "not inside a library folder" in line and "picsift folders list" in line


def test_an_empty_library_says_how_to_add_a_folder(capsys, tmp_path):
    line = _rejected(capsys, ["similar", str(tmp_path / "x.jpg"), "--folder", str(tmp_path)])
    assert "argument --folder: " in line and "picsift index FOLDER" in line


def test_similar_to_a_missing_file_is_one_line(capsys, tmp_path):
    line = _rejected(capsys, ["similar", str(tmp_path / "nope.jpg")])
    assert line.startswith("picsift similar: error: argument path: ") and "nope.jpg" in line


def test_a_missing_query_image_is_one_line(capsys, tmp_path):
    line = _rejected(capsys, ["search", "--image", str(tmp_path / "gone\n.png")])
    assert "argument --image: " in line and "gone\\n.png" in line


def test_a_user_error_naming_a_file_stays_on_one_line(capsys, tmp_path):
    assert main(["index", str(tmp_path / "no\nsuch")]) == 1
    assert capsys.readouterr().err == f"picsift: error: {tmp_path}/no\\nsuch: no such folder\n"


def test_output_cut_short_by_a_closed_pipe_ends_quietly(tmp_path):
    """`picsift status | head -0`: the reader is gone before the first write."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "desktop.cli", "status"], stdout=write_end,
                          stderr=subprocess.PIPE, env=env, cwd=REPO, timeout=60)
    os.close(write_end)
    assert done.stderr == b"" and done.returncode == 141


# --- output, on a real library ----------------------------------------------------------------


@pytest.fixture
def odd_library(tmp_path, capsys):
    """A library with a copy of coffee.jpg named with a newline, a bidi override and a Latin-1 byte."""
    [coffee, _] = write_photos(tmp_path / "lib", names=("coffee", "chelsea"))
    odd = os.fsdecode(os.path.join(os.fsencode(tmp_path / "lib"), "new\n\u202egpj".encode() + b"caf\xe9.jpg"))
    os.link(coffee, odd)
    assert main(["index", str(tmp_path / "lib")]) == 0
    return odd


def test_log_lines_print_on_their_own_line_not_glued_to_the_bar(tmp_path, capsys):
    write_photos(tmp_path / "lib", names=("coffee",))
    assert main(["index", str(tmp_path / "lib")]) == 0  # the first index: "rebuilding the search index"
    segments = re.split(r"[\r\n]", capsys.readouterr().err)
    logged = [s for s in segments if "rebuilding the search index" in s]
    assert logged and all(s.startswith("picsift: ") for s in logged)


def test_odd_file_names_print_on_one_escaped_line(odd_library, capsys):
    capsys.readouterr()
    assert main(["search", "a cup of coffee", "-k", "3", "--all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert any(line.endswith("/new\\n\\u202egpjcaf\\xe9.jpg") for line in lines)
    assert main(["duplicates"]) == 0
    out = capsys.readouterr().out
    assert "new\\n\\u202egpjcaf\\xe9.jpg" in out and "\u202e" not in out


def test_json_output_keeps_odd_file_names_losslessly(odd_library, capsys):
    capsys.readouterr()
    assert main(["search", "a cup of coffee", "--json"]) == 0
    out = capsys.readouterr().out
    assert out.isascii()  # lone surrogates and controls as \\u escapes: valid JSON, any terminal
    paths = [result["path"] for result in json.loads(out)["results"]]
    assert odd_library in paths and os.fsencode(odd_library) in [os.fsencode(p) for p in paths]


def test_counts_of_one_are_singular(odd_library, capsys):
    capsys.readouterr()
    assert main(["status"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "3 photos indexed in 1 folder"
    assert main(["duplicates"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "group 1 (2 files)" and lines[-1] == "1 group of near-duplicates"


def test_a_folder_inside_the_library_filters_the_search(odd_library, tmp_path, capsys):
    capsys.readouterr()
    assert main(["search", "a cat", "--folder", str(tmp_path / "lib"), "--from", "1970-01-01", "--json", "--all"]) == 0
    assert len(json.loads(capsys.readouterr().out)["results"]) == 3
