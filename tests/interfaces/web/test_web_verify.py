"""The verify page says what it read of the watermark as the CLI does: where it was found, with which
key (the production's, or the public default one of older workspaces and other installs), the
payload, the reads and the false-positive rate; or why it could not be read."""

from __future__ import annotations

import json
import re

import pytest

from soundstage.media.images import encode_image
from soundstage.safeguards.watermark import default_engine, samples
from soundstage.services.verify_service import format_window, watermark_line
from web_helpers import HTML, login


def write_image(path, pixels):
    path.write_bytes(encode_image(pixels, "png"))
    return path


def _watermark_cell(page: str) -> str:
    return re.search(r'<td id="watermark">(.*?)</td>', page, re.S).group(1)


def _verify(client, production, path) -> str:
    csrf = login(client, production["tokens"]["legal"])
    with open(path, "rb") as fh:
        response = client.post("/verify", data={"csrf_token": csrf}, files={"file": (path.name, fh, "image/png")},
                               headers=HTML)
    assert response.status_code == 200, response.text
    return _watermark_cell(response.text)


@pytest.mark.parametrize("whose", ["production", "public default"])
def test_the_verify_page_names_the_key_that_found_the_mark(client, production, tmp_path, whose):
    key = production["ws"].watermark_key if whose == "production" else None
    still = default_engine(key).embed(samples.natural_frame(640, 360, variant=1), 0x1234ABCD)
    path = write_image(tmp_path / "still.png", still)
    cell = _verify(client, production, path)
    assert cell.startswith(f"watermark found with the {whose} key (payload 000000001234abcd, ")
    assert (" 1 read," if whose == "production" else " 2 reads,") in cell    # the production key is read first
    assert "false-positive rate" in cell and " at " not in cell              # a still: no window


def test_the_verify_page_says_when_nothing_was_found(client, production, tmp_path):
    path = write_image(tmp_path / "plain.png", samples.natural_frame(640, 360, variant=2))
    assert _verify(client, production, path) == "not found (2 reads)"      # both keys read it


def test_the_verify_page_says_why_a_file_was_not_read(client, production, tmp_path):
    bad = tmp_path / "take.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(64))
    cell = _verify(client, production, bad)
    assert cell.startswith("not read: ") and "take.mp4" in cell


def test_where_and_the_line_read_as_people_read_them() -> None:
    assert format_window(6.0, 8.0) == "6.00-8.00 s"
    assert format_window(187.5, 189.5) == "3:07.50-3:09.50"
    assert format_window(3723.0, 3725.0) == "1:02:03.00-1:02:05.00"
    line = watermark_line({"found": True, "key": "production", "payload": "00005ec0de0f1a7e", "reads": 4,
                           "false_positive_rate": 2.5e-8, "window": [6.0, 8.0]})
    assert line == ("watermark found at 6.00-8.00 s with the production key (payload 00005ec0de0f1a7e, 4 reads, "
                    "false-positive rate 2.5e-08)")
    assert "payload unreadable, 1 read," in watermark_line({"found": True, "key": "public default", "payload": None,
                                                            "reads": 1, "false_positive_rate": 1e-7})


STREAM = {"Accept": "application/x-ndjson"}


def _stream(client, production, name, content, csrf=None):
    csrf = csrf if csrf is not None else login(client, production["tokens"]["legal"])
    response = client.post("/verify", data={"csrf_token": csrf}, files={"file": (name, content)}, headers=STREAM)
    return response, [json.loads(line) for line in response.text.splitlines() if line]


@pytest.mark.slow
def test_the_verify_page_follows_a_long_clip_as_it_is_read(client, production, tmp_path):
    """The page's script asks for progress: one JSON line per part of the clip read, then the result
    as the page shows it. A public-key shot at 6 s of 10 s, in a production workspace (both keys)."""
    from soundstage.testing.sample_media import write_spliced_clip

    clip = write_spliced_clip(tmp_path / "film.mp4", 0x5EC0DE0F1A7E)
    response, lines = _stream(client, production, "film.mp4", clip.read_bytes())
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-ndjson")
    assert [line["progress"] for line in lines[:-1]] == [[1, 5], [2, 5], [3, 5]]   # the 4th part found it
    html = lines[-1]["html"]
    assert "watermark found at 6.00-8.00 s with the public default key (payload 00005ec0de0f1a7e, 8 reads" in html
    assert 'id="verdict"' in html and "<script" not in html


def test_the_verify_stream_ends_with_the_error_the_form_would_show(client, production):
    """An error found while the upload is read (here: it is empty) is the last line, its one line as
    the form would show it; a body over the server's limit (2 MiB here) is refused before any line."""
    response, lines = _stream(client, production, "take.mp4", b"")
    assert response.status_code == 200 and lines == [{"error": "the uploaded file is empty"}]
    response, _ = _stream(client, production, "big.mp4", b"\0" * (3 * 1024 * 1024))
    assert response.status_code == 413 and "limit" in response.json()["error"]["message"]


def test_the_verify_stream_checks_the_csrf_token_before_anything(client, production):
    login(client, production["tokens"]["legal"])
    response, _ = _stream(client, production, "x.png", b"x", csrf="0" * 32)
    assert response.status_code == 403 and "CSRF" in response.json()["error"]["message"]


def test_a_file_whose_name_is_markup_comes_back_as_text(client, production, tmp_path):
    path = write_image(tmp_path / "plain.png", samples.natural_frame(320, 180, variant=2))
    _, lines = _stream(client, production, "<img src=x onerror=alert(1)>.png", path.read_bytes())
    html = lines[-1]["html"]
    assert "<img" not in html and "<td>_img src=x onerror=alert(1)_.png</td>" in html


def test_a_file_named_in_another_script_is_shown_under_its_name(client, production, tmp_path):
    path = write_image(tmp_path / "plain.png", samples.natural_frame(320, 180, variant=2))
    _, lines = _stream(client, production, "撮影 Überstunden.png", path.read_bytes())
    assert "<td>撮影 Überstunden.png</td>" in lines[-1]["html"]
