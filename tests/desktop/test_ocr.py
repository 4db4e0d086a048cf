"""The text reader (desktop/core/ocr.py): real PP-OCRv6 models from rapidocr's wheel, real photos with rendered text."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
from image_zoo import scene, write_photo
from text_photos import cjk_font_file, receipt, screenshot, sign_box, sign_photo

from desktop.core import ocr
from desktop.core.ocr import TextReader
from models.errors import ImageError, TextReadingError

pytestmark = pytest.mark.slow  # each read runs three ONNX models: about 1-4 s on two shared cores


def _refuse_connections(*args, **kwargs):
    raise OSError("network blocked by the test: the OCR models must come from the wheel")


@pytest.fixture(scope="module")
def reader():
    """One reader for the module, its three models loaded while the network is blocked."""
    shared = TextReader()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse_connections)
        assert shared.read(sign_photo("brick", "LOADED", size=40))  # detector, classifier and recogniser all load here
    return shared


def _texts(lines) -> list[str]:
    return [line.text for line in lines]


def test_the_models_are_the_onnx_files_inside_rapidocrs_wheel_on_the_cpu(reader):
    import rapidocr

    engine = reader._engine
    wheel_models = Path(rapidocr.__file__).parent / "models"
    for model in (engine.text_det, engine.text_cls, engine.text_rec):
        session = model.session.session
        assert Path(session._model_path).parent == wheel_models
        assert session.get_providers() == ["CPUExecutionProvider"]


@pytest.mark.parametrize("font_name", ["DejaVuSerif-Bold.ttf", "DejaVuSansMono.ttf"])
def test_words_on_a_sign_in_a_photo_read_in_different_fonts(reader, font_name):
    lines = reader.read(sign_photo("grass", "OPEN DAILY 9-17", font_name, 36))
    assert _texts(lines) == ["OPEN DAILY 9-17"]
    assert 0.6 <= lines[0].score <= 1.0


@pytest.mark.parametrize("angle", [90, 180])
def test_text_turned_by_90_or_180_degrees_still_reads(reader, angle):
    lines = reader.read(sign_photo("gravel", "PARKING EXIT", "DejaVuSans.ttf", 34, angle=angle))
    assert _texts(lines) == ["PARKING EXIT"]


def test_a_snapped_receipt_reads_line_by_line_with_its_total(reader):
    lines = reader.read(receipt(("CAFE ROMA", "2 ESPRESSO 5.20", "1 CROISSANT 3.20", "TOTAL 8.40")))
    assert _texts(lines) == ["CAFE ROMA", "2 ESPRESSO 5.20", "1 CROISSANT 3.20", "TOTAL 8.40"]


def test_a_lines_box_gives_its_four_corners_as_fractions_of_the_original_picture(reader):
    size, at = (900, 600), (0.3, 0.7)  # not the size any model runs at, text off-centre
    lines = reader.read(sign_photo("brick", "TOTAL 8.40", "DejaVuSans.ttf", 30, photo_size=size, at=at))
    assert _texts(lines) == ["TOTAL 8.40"]
    xs, ys = zip(*lines[0].box)
    left, top, right, bottom = sign_box("TOTAL 8.40", "DejaVuSans.ttf", 30, size, at)
    assert len(lines[0].box) == 4 and all(0 <= v <= 1 for v in xs + ys)
    # the detector's box holds the letters with a margin of a few pixels
    assert min(xs) <= left and max(xs) >= right and min(ys) <= top and max(ys) >= bottom
    assert min(xs) > left - 0.05 and max(xs) < right + 0.05 and min(ys) > top - 0.05 and max(ys) < bottom + 0.05


def test_small_interface_type_in_a_screenshot_reads(reader):
    lines = reader.read(screenshot("Invoices - Mail", "File  Edit  View  Help", ("Invoice 2024-031 paid", "Meeting moved to Friday")))
    assert _texts(lines) == ["Invoices - Mail", "File Edit View Help", "Invoice 2024-031 paid", "Meeting moved to Friday"]


@pytest.mark.skipif(cjk_font_file() is None, reason="no CJK font on this machine (Debian: fonts-droid-fallback or fonts-noto-cjk)")
def test_a_chinese_and_japanese_sign_reads_from_an_rgb_array(reader):
    picture = np.asarray(sign_photo("astronaut", "東京駅 出口", cjk_font_file(), 40))
    assert _texts(reader.read(picture)) == ["東京駅 出口"]


@pytest.mark.parametrize("name", ["astronaut", "rocket", "gravel"])
def test_a_photo_without_text_is_turned_away_by_the_gate_with_no_lines(reader, name):
    picture = scene(name, (640, 480))
    assert reader.gate_score(picture) < ocr.GATE_SCORE
    assert reader.read(picture) == []


def test_a_photo_file_stored_turned_reads_upright_through_the_photo_reader(reader, tmp_path):
    picture = sign_photo("grass", "HARBOUR VIEW", "DejaVuSans.ttf", 40)
    path = write_photo(tmp_path / "sign.jpg", "grass", exif_orientation=6, picture=picture)
    assert _texts(reader.read_file(path)) == ["HARBOUR VIEW"]


def test_an_unreadable_photo_file_is_an_image_error_naming_it(reader, tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ImageError, match="broken.jpg"):
        reader.read_file(path)


def test_an_array_that_is_not_rgb_bytes_is_a_bug_and_stays_loud(reader):
    with pytest.raises(ValueError, match="uint8 RGB"):
        reader.read(np.zeros((32, 32, 3), np.float32))


def test_slivers_and_blank_images_give_no_lines(reader):
    for picture in (np.zeros((1, 1, 3), np.uint8), np.full((2, 4000, 3), 255, np.uint8), np.full((300, 300, 3), 128, np.uint8)):
        assert reader.read(picture) == []


def test_a_model_missing_from_the_install_says_how_to_reinstall(monkeypatch):
    monkeypatch.setitem(ocr._MODELS, "Rec", "PP-OCRv6_rec_gone.onnx")
    with pytest.raises(TextReadingError, match="pip install --force-reinstall rapidocr"):
        TextReader().read(np.zeros((64, 64, 3), np.uint8))
