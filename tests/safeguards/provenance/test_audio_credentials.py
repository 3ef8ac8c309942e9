"""Content Credentials on audio: WAV, MP3 and M4A signed with a real production CA and read back; a
tampered or re-encoded file; `verify` recovering a stripped line through the audio mark and the ledger."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from soundstage.errors import ParseError
from soundstage.media.audio import read_audio, write_audio
from soundstage.safeguards.provenance import (
    IPTC, CredentialState, IngredientSource, ManifestSpec, ModelInfo, Operation, SoftwareAgent, SoundstageRecord,
    WatermarkInfo, read_credentials, sign_file, sniff_mime,
)
from soundstage.safeguards.watermark import audio_samples
from soundstage.safeguards.watermark.audio import ALG, default_audio_engine

RATE = 48_000
MODEL = ModelInfo("tiny-tts", "1.0", "cd" * 32, "Apache-2.0", "the performer's consented recordings only")
TTS = SoftwareAgent("openai_speech", "1.0")
MIME = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4"}


@pytest.fixture(scope="module")
def line() -> np.ndarray:
    return audio_samples.speech_like(3.0, RATE, seed=4)


def _spec(operation: Operation, tmp_path: Path, asset_id: str = "00000000000000a1") -> ManifestSpec:
    parent = None
    if operation is Operation.GENAI_EDIT:  # an edited recording with one synthetic line in it
        recording = write_audio(tmp_path / "production_sound.wav", audio_samples.speech_like(3.0, RATE, seed=9), RATE)
        parent = IngredientSource("production_sound.wav", path=recording)
    return ManifestSpec(operation=operation, title=f"line_{operation.value}", generator=TTS, model=MODEL, parent=parent,
                        record=SoundstageRecord("prod-night-shoot", "job-7", asset_id, ("consent-voice-1",)),
                        watermark=WatermarkInfo(ALG, int(asset_id, 16), 64))


@pytest.mark.parametrize("suffix", sorted(MIME))
@pytest.mark.parametrize(("operation", "source_type"), [
    (Operation.GENERATED, "trainedAlgorithmicMedia"),               # a synthetic line
    (Operation.GENAI_EDIT, "compositeWithTrainedAlgorithmicMedia"),  # a recording with a synthetic line in it
])
def test_audio_round_trip(tmp_path, credentials, keys, line, suffix, operation, source_type):
    src = write_audio(tmp_path / f"line{suffix}", line, RATE)
    dst = tmp_path / f"signed{suffix}"
    result = sign_file(src, dst, _spec(operation, tmp_path), credentials)
    assert result.mime == MIME[suffix] and result.manifest_bytes > 0
    reading = read_credentials(dst, trust_anchors=[keys.ca_cert.read_bytes()])
    assert reading.state is CredentialState.TRUSTED, reading.status_codes
    assert reading.digital_source_types == (IPTC + source_type,)
    assert reading.soundstage["asset_id"] == "00000000000000a1"
    assert reading.watermark["engine"] == ALG
    if operation is Operation.GENAI_EDIT:
        assert [i.relationship for i in reading.ingredients if i.title == "production_sound.wav"] == ["parentOf"]
    # the signed file still plays, sample for sample what was signed
    before, _ = read_audio(src)
    after, rate = read_audio(dst)
    assert rate == RATE and np.array_equal(before, after)


def test_a_changed_sample_reads_invalid(tmp_path, credentials, keys, line):
    dst = tmp_path / "signed.wav"
    sign_file(write_audio(tmp_path / "line.wav", line, RATE), dst, _spec(Operation.GENERATED, tmp_path), credentials)
    data = bytearray(dst.read_bytes())
    where = data.find(b"data") + 8 + 2000  # a sample inside the PCM data chunk
    data[where] ^= 0x01
    dst.write_bytes(bytes(data))
    reading = read_credentials(dst, trust_anchors=[keys.ca_cert.read_bytes()])
    assert reading.state is CredentialState.INVALID and reading.has_code("assertion.dataHash.mismatch")


def test_re_encoding_strips_the_credentials(tmp_path, credentials, line):
    dst = tmp_path / "signed.m4a"
    sign_file(write_audio(tmp_path / "line.m4a", line, RATE), dst, _spec(Operation.GENERATED, tmp_path), credentials)
    samples, rate = read_audio(dst)
    stripped = write_audio(tmp_path / "stripped.mp3", samples, rate)
    assert read_credentials(stripped).state is CredentialState.ABSENT


@pytest.mark.parametrize(("suffix", "renamed", "mime"), [(".wav", "x.mp3", "audio/wav"), (".mp3", "x.wav", "audio/mpeg"),
                                                         (".m4a", "x.mp4", "audio/mp4"), (".m4a", "x.m4a", "audio/mp4")])
def test_the_type_is_sniffed_from_the_bytes_not_the_name(tmp_path, line, suffix, renamed, mime):
    head = write_audio(tmp_path / f"a{suffix}", line[:4800], RATE).read_bytes()[:16]
    assert sniff_mime(head, renamed) == mime
    assert sniff_mime(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", "clip.mp4") == "video/mp4"  # video stays video


def test_an_adts_aac_file_cannot_carry_an_embedded_manifest(tmp_path, credentials, line):
    raw = write_audio(tmp_path / "line.aac", line, RATE)
    with pytest.raises(ParseError, match="unrecognised"):
        sign_file(raw, tmp_path / "signed.aac", _spec(Operation.GENERATED, tmp_path), credentials)


# --------------------------------------------------------------------------- verify

def _delivered_line(ws, tmp_path: Path) -> tuple[str, Path]:
    """A line registered in the ledger, marked with its asset id and signed by the production, as the
    guarded path delivers it (registered here by ingest, so this test does not depend on a voice model)."""
    from soundstage.safeguards.guard import IngestRequest, format_asset_id, ingest
    from soundstage.safeguards.keys import load_production_signer

    line = audio_samples.speech_like(4.0, RATE, seed=12, channels=2)
    with ws.unit_of_work() as s:
        asset = ingest(s, ws.store, IngestRequest(production_id=ws.production_id, actor="test", kind="audio",
                                                  media_type="audio/wav", name="line.wav",
                                                  path=write_audio(tmp_path / "raw.wav", line, RATE)))
        asset_id = format_asset_id(asset.id)
    marked = default_audio_engine(ws.watermark_key).embed(line, RATE, int(asset_id, 16))
    unsigned = write_audio(tmp_path / "marked.wav", marked, RATE)
    signer = load_production_signer(ws.settings.keys_dir)
    delivered = tmp_path / "delivered.wav"
    sign_file(unsigned, delivered, _spec(Operation.GENERATED, tmp_path, asset_id), signer)
    return asset_id, delivered


@pytest.mark.parametrize("strip_to", [".mp3", ".m4a"])
def test_verify_recovers_a_stripped_line_through_the_audio_mark(sqlite_workspace, tmp_path, strip_to):
    from soundstage.services.verify_service import verify_file

    ws = sqlite_workspace
    asset_id, delivered = _delivered_line(ws, tmp_path)
    intact = verify_file(delivered, ws)
    assert intact["c2pa"]["state"] == "Trusted"
    assert intact["watermark"]["found"] and intact["watermark"]["engine"] == ALG
    assert intact["identity"]["agree"] is True and intact["ledger"]["asset"] == asset_id

    samples, rate = read_audio(delivered)
    stripped = write_audio(tmp_path / f"stripped{strip_to}", samples, rate)  # 128 kb/s, no credentials
    result = verify_file(stripped, ws)
    assert result["c2pa"]["state"] == "Absent"
    assert result["watermark"]["found"] and result["watermark"]["payload"] == asset_id
    assert result["watermark"]["key"] == "production" and result["watermark"]["false_positive_rate"] <= 1e-6
    assert result["ledger"]["found"] and result["ledger"]["found_by"] == "watermark"
    assert (f"no Content Credentials in the file; its watermark, made with the production's secret key, identifies "
            f"asset {asset_id}") in result["verdict"] and result["identity"]["attributed"]

    # outside the production nobody holds the key: the mark is not found, nothing is claimed
    assert not verify_file(stripped)["watermark"]["found"]


def test_verify_on_an_unmarked_line_and_on_garbage(sqlite_workspace, tmp_path):
    from soundstage.services.verify_service import verify_file

    plain = write_audio(tmp_path / "plain.mp3", audio_samples.speech_like(3.0, RATE, seed=30), RATE)
    result = verify_file(plain, sqlite_workspace)
    assert not result["watermark"]["found"] and result["ledger"] is None
    assert "no content credentials and no soundstage watermark found" in result["verdict"].lower()

    garbled = tmp_path / "garbled.wav"
    garbled.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4)
    try:
        answer = verify_file(garbled, sqlite_workspace)
    except ParseError as exc:  # c2pa refuses the RIFF structure: one line
        assert "\n" not in exc.one_line()
    else:  # or it reads as no manifest, and the mark's reader says why in one line
        assert not answer["watermark"]["found"] and "\n" not in answer["watermark"]["error"]
