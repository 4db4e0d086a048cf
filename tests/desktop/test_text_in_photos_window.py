"""Text in photos in the window: the background text pass after indexing, its progress and Cancel, and the preview's text."""

from __future__ import annotations

from engine_fixtures import index_all, write_photos
from PIL import ExifTags, Image
from PySide6.QtGui import QGuiApplication
from text_photos import sign_photo, words_of

from desktop.core import ocr
from desktop.core.catalog import Catalog
from desktop.core.library import Library
from desktop.core.ocr import TextLine
from desktop.core.settings import Settings
from desktop.ui.main_window import MainWindow
from desktop.ui.preview import reading_text

WAIT_MS = 60_000  # generous for a loaded machine; tests return as soon as the signal arrives
GPS = ExifTags.GPS
PORTO = {GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (41.0, 8.0, 26.4), GPS.GPSLongitudeRef: "W", GPS.GPSLongitude: (8.0, 36.0, 48.0)}
SIGNS = {"harbour": ("grass", "HARBOUR VIEW"), "open": ("gravel", "OPEN DAILY"), "exit": ("brick", "PARKING EXIT"),
         "market": ("moon", "FISH MARKET")}


def _write_signs(folder, names, gps: dict | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    if gps:
        exif[ExifTags.IFD.GPSInfo] = gps
    for name in names:
        base, words = SIGNS[name]
        sign_photo(base, words, "DejaVuSans.ttf", 40).save(folder / f"{name}.jpg", quality=92, exif=exif.tobytes())


def _indexed_library(runtime, folder) -> None:
    library = Library(Catalog(), runtime)
    library.catalog.add_folder(folder)
    index_all(library)
    library.close()


def _window(qtbot, runtime) -> MainWindow:
    window = MainWindow(Library(Catalog(), runtime), Settings())
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.show()
    return window


def _select(qtbot, window: MainWindow, name: str) -> None:
    row = next(i for i, r in enumerate(window.model.rows()) if r.name == name)
    window.view.setCurrentIndex(window.model.index(row))
    qtbot.waitUntil(lambda: not window._relays, timeout=WAIT_MS)  # the preview's text has come back


def test_after_indexing_the_text_pass_reads_a_sign_with_progress_and_the_preview_shows_it_copies_it_and_its_place(qtbot, runtime, tmp_path):
    folder = tmp_path / "photos"
    _write_signs(folder, ["harbour"], gps=PORTO)
    write_photos(folder, names=("rocket",))
    window = _window(qtbot, runtime)
    with qtbot.waitSignal(window.indexingFinished, timeout=WAIT_MS):
        window.add_folder(str(folder))
    assert window.text_pass.is_running() and window.text_pass.progress.isVisibleTo(window)
    shown = []
    window.text_pass.progressed.connect(lambda _: shown.append(window.text_pass.label.text()))
    with qtbot.waitSignal(window.text_pass.finished, timeout=WAIT_MS) as finished:
        pass
    assert finished.args[0].phase == "done" and finished.args[0].with_text == 1
    assert shown[-1] == "Reading text in photos: 2 of 2"
    assert all(text.startswith("Reading text in photos: ") for text in shown)
    assert not window.text_pass.progress.isVisibleTo(window)

    _select(qtbot, window, "harbour.jpg")
    preview = window.preview
    assert preview.text_box.isVisibleTo(preview) and not preview.text_status.isVisibleTo(preview)
    assert {"HARBOUR", "VIEW"} <= words_of(preview.text_box.toPlainText())
    preview.copy_text_button.click()
    assert QGuiApplication.clipboard().text() == preview.text_box.toPlainText()
    assert preview.place.text() == "Porto, Portugal" and preview.place.isVisibleTo(preview)

    _select(qtbot, window, "rocket.jpg")
    assert not preview.text_box.isVisibleTo(preview) and not preview.copy_text_button.isVisibleTo(preview)
    assert not preview.text_status.isVisibleTo(preview)
    assert not preview.place.isVisibleTo(preview)


def test_cancel_stops_the_text_pass_keeps_what_was_read_and_the_next_indexing_run_reads_the_rest(qtbot, runtime, tmp_path):
    folder = tmp_path / "photos"
    _write_signs(folder, ["harbour", "open", "exit", "market"])  # Cancel lands a photo or two late on a busy machine
    _indexed_library(runtime, folder)
    window = _window(qtbot, runtime)  # photos are left unread: the pass starts by itself
    qtbot.waitUntil(lambda: window.text_pass.is_running(), timeout=WAIT_MS)
    window.text_pass.progressed.connect(lambda progress: progress.done and window.text_pass.cancel())
    with qtbot.waitSignal(window.text_pass.finished, timeout=WAIT_MS) as finished:
        pass
    window.text_pass.progressed.disconnect()  # the next run goes to its end
    cancelled = finished.args[0]
    assert cancelled.phase == "cancelled" and 0 < cancelled.done < 4, cancelled
    assert not window.text_pass.is_running() and not window.text_pass.cancel_button.isVisibleTo(window)
    assert window.text_pass.label.text().startswith(f"Reading text stopped at {cancelled.done} of 4")
    catalog = window.library.catalog
    assert catalog.count_text_unread() == 4 - cancelled.done
    read = [row for row in window.model.rows() if catalog.text_read(row.record.image_id)]
    assert len(read) == cancelled.done and all(catalog.text_of(row.record.image_id) for row in read)
    _select(qtbot, window, next(row.name for row in window.model.rows() if row not in read))
    assert window.preview.text_status.isVisibleTo(window.preview) and window.preview.text_status.text() == "Text not read yet"
    assert not window.preview.text_box.isVisibleTo(window.preview)

    with qtbot.waitSignal(window.text_pass.finished, timeout=WAIT_MS) as resumed:
        window.start_indexing(None)
    assert resumed.args[0].phase == "done" and resumed.args[0].total == 4 - cancelled.done
    assert catalog.count_text_unread() == 0
    qtbot.waitUntil(lambda: window.preview.text_box.isVisibleTo(window.preview), timeout=WAIT_MS)  # the photo shown, read now
    assert not window.preview.text_status.isVisibleTo(window.preview)


def test_starting_indexing_stops_the_text_pass_first_and_it_goes_on_after(qtbot, runtime, tmp_path):
    folder = tmp_path / "photos"
    _write_signs(folder, ["harbour", "open", "exit"])
    _indexed_library(runtime, folder)
    window = _window(qtbot, runtime)
    qtbot.waitUntil(lambda: window.text_pass.is_running(), timeout=WAIT_MS)
    runs = []
    window.text_pass.finished.connect(runs.append)

    def index_once(progress) -> None:
        if progress.done:
            window.text_pass.progressed.disconnect(index_once)
            window.start_indexing(None)
    window.text_pass.progressed.connect(index_once)
    qtbot.waitUntil(lambda: bool(runs) and runs[-1].phase == "done", timeout=WAIT_MS)
    assert [run.phase for run in runs] == ["cancelled", "done"] and runs[1].total == 3 - runs[0].done, runs
    assert window.library.catalog.count_text_unread() == 0


def test_a_text_reader_missing_from_the_install_shows_one_line_and_no_traceback(qtbot, runtime, tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    _write_signs(folder, ["harbour"])
    _indexed_library(runtime, folder)
    monkeypatch.setitem(ocr._MODELS, "Rec", "PP-OCRv6_rec_gone.onnx")
    window = MainWindow(Library(Catalog(), runtime), Settings())
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.errorShown, timeout=WAIT_MS) as shown:
        window.show()
    assert "PP-OCRv6_rec_gone.onnx" in shown.args[0] and "\n" not in shown.args[0] and "Traceback" not in shown.args[0]
    qtbot.waitUntil(lambda: not window.text_pass.is_running(), timeout=WAIT_MS)
    assert not window.text_pass.cancel_button.isVisibleTo(window)


def _line(text: str, left: float, top: float, width: float, slant: float = 0.0, height: float = 0.04) -> TextLine:
    right_top = top + slant * width
    return TextLine(text, 0.9, ((left, top), (left + width, right_top), (left + width, right_top + height), (left, top + height)))


def test_the_preview_reads_a_turned_receipts_items_and_prices_on_one_row_each():
    slant = -0.07  # the receipt turned 4 degrees: each price sits higher than its item, by more than half a line
    lines = [_line("1.20", 0.6, 0.30 + 0.5 * slant, 0.1, slant), _line("MILK", 0.1, 0.30, 0.1, slant),
             _line("2.10", 0.6, 0.36 + 0.5 * slant, 0.1, slant), _line("BREAD", 0.1, 0.36, 0.12, slant),
             _line("CORNER SHOP", 0.1, 0.2, 0.3, slant)]
    assert reading_text(lines) == "CORNER SHOP\nMILK 1.20\nBREAD 2.10"
    assert reading_text([_line("EXIT", 0.4, 0.5, 0.2)]) == "EXIT" and reading_text([]) == ""
