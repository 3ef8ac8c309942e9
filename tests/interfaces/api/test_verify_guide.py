"""docs/guides/verify-a-file.md cannot rot: its API client example is loaded from the guide and run
against the real API (a public-key shot cut into a clip at 6 s), and the exit codes and lines it
quotes are the ones the CLI prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "guides" / "verify-a-file.md"


def _example() -> dict:
    code = re.search(r"```python\n(.*?)```", GUIDE.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(GUIDE), "exec"), namespace)  # noqa: S102 - our own guide's example
    return namespace


@pytest.mark.slow
def test_the_guides_client_follows_a_long_clip_and_returns_the_result(client, production, tmp_path):
    from soundstage.testing.sample_media import write_spliced_clip

    clip = write_spliced_clip(tmp_path / "film.mp4", 0x5EC0DE0F1A7E)
    heard: list[tuple[int, int]] = []
    result = _example()["verify_with_progress"](client, clip, production["tokens"]["legal"],
                                                on_progress=lambda done, total: heard.append((done, total)))
    assert heard == [(1, 5), (2, 5), (3, 5)]
    wm = result["watermark"]
    assert wm["found"] and wm["window"] == [6.0, 8.0] and wm["key"] == "public default"
    from soundstage.services.verify_service import watermark_line

    line = watermark_line(wm)   # the line the guide quotes (its rate, to the codec's rounding)
    assert line.rsplit(", false-positive rate", 1)[0] in GUIDE.read_text(), line


def test_the_guides_client_raises_the_error_line(client, production, tmp_path):
    empty = tmp_path / "take.mp4"
    empty.write_bytes(b"")
    with pytest.raises(RuntimeError, match="the uploaded file is empty"):
        _example()["verify_with_progress"](client, empty, production["tokens"]["legal"])


def test_the_lines_the_guide_quotes_are_the_ones_verify_prints():
    from soundstage.services.verify_service import not_found_line

    text = GUIDE.read_text()
    spread = {"found": False, "reads": 32, "scan": {"unit": "spans", "planned": 16, "whole": 3600, "spread": True}}
    assert f"watermark {not_found_line(spread)}" in text
