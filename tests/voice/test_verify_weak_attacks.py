"""The audio mark's documented weak spots (DR017): a marked line mixed 10 dB UNDER louder music,
and a tempo change that keeps the pitch. The mark is not expected to survive them; what is tested
is that `verify` says so honestly ("no soundstage watermark found") and never names an asset it
did not read - while the same line, unattacked and stripped of its credentials, is still found."""

from __future__ import annotations

import pytest

from soundstage.media.audio import write_audio
from soundstage.services.verify_service import verify_file
from soundstage.testing.audio_attacks import apply
from soundstage.testing.fake_voice_server import speak
from soundstage.voice.job import mark_segment

PAYLOAD = 0x1A2B3C4D5E
LINE = "Where were you on the night of the fourth when the lights went out on the pier"  # ~5 s


@pytest.fixture(scope="module")
def marked_line(tmp_path_factory):
    from soundstage.services.workspace import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("ws") / "production", "The Last Take")
    line = speak(LINE, "maya-v2", rate=48000)[:, None]
    return ws, mark_segment(line, 48000, PAYLOAD, ws.watermark_key)


def _verify(ws, samples, rate, path):
    write_audio(path, samples, rate)  # a bare WAV: no Content Credentials
    return verify_file(path, ws)


def test_the_unattacked_stripped_line_is_still_found(marked_line, tmp_path):
    ws, line = marked_line
    result = _verify(ws, line, 48000, tmp_path / "stripped.wav")
    assert result["watermark"]["found"] and int(result["watermark"]["payload"], 16) == PAYLOAD
    assert result["c2pa"]["state"] not in ("Trusted", "Valid")


@pytest.mark.slow
@pytest.mark.parametrize("attack", ["under_music_+10dB", "tempo_0.90"])
def test_verify_says_plainly_that_no_mark_was_found(marked_line, tmp_path, attack):
    ws, line = marked_line
    attacked, rate = apply(attack, line, 48000, seed=0)
    result = _verify(ws, attacked, rate, tmp_path / f"{attack}.wav")
    wm = result["watermark"]
    assert not wm["found"], "this line survives the attack: pick one it does not (the honesty case is the point)"
    assert wm["payload"] is None and result["identity"]["asset"] is None and result["ledger"] is None
    assert result["verdict"] == "No Content Credentials and no soundstage watermark found"
