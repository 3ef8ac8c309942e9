"""File names from clients (interfaces/api/uploads): a label in any script that can never become a
path, fit on any file system, and go back out in a download header that every client can read."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from soundstage.interfaces.api.uploads import LABEL_MAX_BYTES, attachment, safe_filename


@pytest.mark.parametrize(("name", "clean"), [
    ("撮影.png", "撮影.png"), ("Überstunden.mp4", "Überstunden.mp4"), ("फ़िल्म.mp4", "फ़िल्म.mp4"),
    ("Scene 12 take (2).mov", "Scene 12 take (2).mov"), ("shot__01.png", "shot__01.png"),
    ("U\u0308berstunden.mp4", "U\u0308berstunden.mp4"),  # a Mac's decomposed name, as it was signed
    ("../../etc/passwd", "passwd"), ("..\\..\\windows\\x.fountain", "x.fountain"), ("....//x.fountain", "x.fountain"),
    ("\x00evil.fountain", "_evil.fountain"), ("a\u202egnp.exe", "a_gnp.exe"),  # no bidi override to spoof a suffix
    ('take"; filename=x.sh', "take__ filename=x.sh"), (" .hidden", "hidden"), ("🎬.png", "_.png"),
    ("", "upload"), ("...", "upload"), ("__", "upload"), (None, "upload"),
])
def test_safe_names(name, clean):
    assert safe_filename(name) == clean


@pytest.mark.parametrize("stem", ["x" * 400, "撮" * 300, "🎬" * 300, "e\u0301" * 300])
def test_long_names_fit_a_file_system_and_keep_their_frame_number_and_suffix(stem, tmp_path):
    name = safe_filename(stem + ".0001.png")
    assert len(name.encode()) <= LABEL_MAX_BYTES and name.endswith(".0001.png")
    (tmp_path / (name + ".c2pa")).write_bytes(b"x")  # a real file system takes it, and a sidecar's name beside it


@pytest.mark.parametrize("name", ["撮影.png", "Überstunden A007.mp4", "🎬.png", 'a"b;c.png', "plate_A001.png"])
def test_a_download_header_is_latin_1_and_carries_the_exact_name(name):
    header = attachment(name)
    header.encode("latin-1")  # what an HTTP header may hold; a raw 撮 would fail here
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback.isascii() and fallback.endswith(name.rsplit(".", 1)[1]) and '"' not in fallback
    if "filename*=" in header:
        assert unquote(header.split("filename*=UTF-8''", 1)[1]) == safe_filename(name)
    else:
        assert fallback == safe_filename(name)
