"""An audio plate through the real entry point: `asset add` a WAV production track, `voice adr` a
line into it down the guarded path, export the output and check it byte for byte outside the
range, the audio mark inside it and the Content Credentials with `verify`. Also: what `asset add`
refuses for audio (not audio, too long, a FLAC as a document...) and an MP3 plate's refusal."""

from __future__ import annotations

import json
import wave

import numpy as np
import pytest

from soundstage.media.audio import write_audio
from soundstage.safeguards.guard import parse_asset_id
from soundstage.safeguards.watermark.audio import default_audio_engine
from soundstage.services import consent_service
from soundstage.testing.identity import signer_for
from soundstage.voice.pcm import write_wav16

LINE = "Where were you on the night of the fourth"  # 2.46 s from the speech server
RATE = 48000


def production_track(path, seconds=4.0, channels=2):
    """Room tone plus a quiet hum: a 16-bit stereo WAV the way a sound department delivers it."""
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * RATE)) / RATE
    tone = 0.05 * np.sin(2 * np.pi * 110 * t)[:, None] + 0.01 * rng.standard_normal((t.size, channels))
    return write_wav16(path, tone.astype(np.float32), RATE)


@pytest.fixture
def prod(voice_production, tmp_path):
    """The voice production (conftest.py) with Maya's voice consented to and enrolled."""
    ws, cli = voice_production["ws"], voice_production["cli"]
    document = tmp_path / "consent.pdf"
    document.write_bytes(b"%PDF-1.4 voice consent")
    consent_service.grant_consent(ws, voice_production["maya"]["id"], document=document, kind="digital_alteration",
                     operations=["voice.adr"], description="ADR of one line in scene 12 for the final mix only",
                     signed_separately=True, representation="union", signer=signer_for(ws, "Lena Ortiz"))
    code, _, err = cli("voice", "enroll", "Maya Castell", str(voice_production["ref"]), who="Lena Ortiz")
    assert code == 0, err
    return voice_production


def pcm_of(path):
    with wave.open(str(path), "rb") as w:
        return w.getparams(), w.readframes(w.getnframes())


@pytest.mark.slow
def test_adr_into_a_wav_plate_added_with_asset_add(prod, tmp_path):
    cli, tmp = prod["cli"], prod["tmp"]
    source = production_track(tmp / "sc12_boom.wav")
    code, out, err = cli("asset", "add", str(source), "--kind", "plate", "--scene", "12", "--json", who="Ken Ito")
    assert code == 0, err
    plate = json.loads(out)
    assert plate["media_type"] == "audio/wav" and plate["kind"] == "plate"
    assert plate["details"]["sample_rate"] == RATE and plate["details"]["channels"] == 2
    assert plate["details"]["seconds"] == pytest.approx(4.0)

    code, _, err = cli("voice", "adr", "Maya Castell", plate["id"], "--line", LINE, "--start", "0.5", "--end", "3.1",
                       "--model", "studio.tts", "--scene", "12", who="Ken Ito")
    assert code == 1 and "waiting for approval" in err
    job_id = err.split("job ")[1].split(" ")[0]
    code, out, err = cli("job", "preview", job_id, "--out", str(tmp_path / "review"), "--json", who="Priya Shah")
    assert code == 0, err  # approvers listen to the line first (the default pack requires it)
    digest = json.loads(out)["preview_digest"]
    for who, role in (("Priya Shah", "producer"), ("Tom Reed", "rights_clearance"), ("Lena Ortiz", "performer_rep")):
        code, out, err = cli("job", "approve", job_id, "--role", role, "--preview", digest, "--json", who=who)
        assert code == 0, err
    done = json.loads(out)
    assert done["status"] == "done"
    [asset] = done["assets"]
    assert asset["media_type"] == "audio/wav"

    wav = tmp / "sc12_boom_adr.wav"
    code, _, err = cli("asset", "export", asset["id"], "--out", str(wav), who="Ken Ito")
    assert code == 0, err
    (params_in, before), (params_out, after) = pcm_of(source), pcm_of(wav)
    assert params_out == params_in
    a, b = int(0.5 * RATE) * 2 * 2, int(3.1 * RATE) * 2 * 2  # 16-bit stereo frames
    assert after[:a] == before[:a] and after[b:] == before[b:]  # every byte outside the range is the plate's
    assert after[a:b] != before[a:b]

    ranged = np.frombuffer(after[a:b], "<i2").reshape(-1, 2).astype(np.float32) / 32768.0
    found = default_audio_engine(prod["ws"].watermark_key).detect(ranged, RATE)
    assert found.found and found.payload == parse_asset_id(asset["id"])
    plain = np.frombuffer(before[a:b], "<i2").reshape(-1, 2).astype(np.float32) / 32768.0
    assert not default_audio_engine(prod["ws"].watermark_key).detect(plain, RATE).found

    code, out, err = cli("verify", str(wav), "--json", who="Ken Ito")
    assert code == 0, err
    result = json.loads(out)
    assert result["c2pa"]["state"] == "Trusted" and result["c2pa"]["soundstage"]["asset_id"] == asset["id"]
    assert result["ledger"] is not None


def test_asset_add_refuses_what_is_not_a_usable_audio_plate(prod, monkeypatch):
    from soundstage.services import ledger

    cli, tmp = prod["cli"], prod["tmp"]
    fake = tmp / "notes.wav"
    fake.write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunk" + bytes(64))
    code, _, err = cli("asset", "add", str(fake), who="Ken Ito")
    assert code != 0 and "notes.wav" in err
    empty = tmp / "empty.mp3"
    empty.write_bytes(b"")
    code, _, err = cli("asset", "add", str(empty), "--kind", "audio", who="Ken Ito")
    assert code != 0 and "empty" in err
    monkeypatch.setattr(ledger, "AUDIO_PLATE_SECONDS", 2.0)  # the bound, without writing a 10-minute file
    code, _, err = cli("asset", "add", str(production_track(tmp / "long.wav", seconds=5.0)), who="Ken Ito")
    assert code != 0 and "limit" in err
    monkeypatch.setattr(ledger, "AUDIO_PLATE_SECONDS", 600.0)
    monkeypatch.setattr(ledger, "AUDIO_PLATE_DECODE_BYTES", 48000 * 2 * 4 * 3)  # 3 s of 48 kHz stereo
    code, _, err = cli("asset", "add", str(production_track(tmp / "wide.wav", seconds=4.0)), who="Ken Ito")
    assert code != 0 and "3 s" in err
    code, _, err = cli("asset", "add", str(production_track(tmp / "ref.wav", seconds=1.0)), "--kind", "reference",
                       who="Ken Ito")
    assert code != 0 and "unsupported media type .wav for a reference" in err
    still = tmp / "still.txt"
    still.write_text("hello")
    code, _, err = cli("asset", "add", str(still), "--kind", "audio", who="Ken Ito")
    assert code != 0 and "audio asset" in err
    code, out, _ = cli("asset", "list", "--json", who="Ken Ito")
    assert not [a for a in json.loads(out) if a["kind"] in ("plate", "audio")]  # nothing was half-stored


def test_an_mp3_plate_is_ingested_and_a_line_replacement_in_it_is_refused(prod):
    cli, tmp = prod["cli"], prod["tmp"]
    samples = 0.1 * np.sin(2 * np.pi * 220 * np.arange(3 * 44100) / 44100)[:, None].astype(np.float32)
    mp3 = write_audio(tmp / "temp_music.mp3", samples, 44100)
    code, out, err = cli("asset", "add", str(mp3), "--kind", "audio", "--json", who="Ken Ito")
    assert code == 0, err
    music = json.loads(out)
    assert music["kind"] == "audio" and music["media_type"] == "audio/mpeg"
    assert music["details"]["sample_rate"] == 44100 and music["details"]["channels"] == 1
    code, _, err = cli("voice", "adr", "Maya Castell", music["id"], "--line", LINE, "--start", "0.2", "--end", "2.8",
                       "--model", "studio.tts", "--scene", "12", who="Ken Ito")
    assert code == 2 and "is audio/mpeg; a line is replaced in a WAV plate" in err
    code, out, _ = cli("voice", "jobs", "--json", who="Ken Ito")
    assert code == 0 and json.loads(out) == []  # refused before a job was recorded
