"""The verify page says what it read of the watermark as the CLI does: where it was found, with which
key (the production's, or the public default one of older workspaces and other installs), the
payload, the reads and the false-positive rate; or why it could not be read."""

from __future__ import annotations

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
