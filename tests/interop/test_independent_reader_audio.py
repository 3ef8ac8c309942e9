"""c2pa-wasm (an independent build of c2pa-rs, under Node) reads our signed WAV, MP3 and M4A as soundstage
does: the same state and status codes trusting the production CA, and Invalid once a sample changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from soundstage.media.audio import write_audio
from soundstage.safeguards.keys import create_production_ca, load_signer
from soundstage.safeguards.provenance import (
    IPTC, ManifestSpec, ModelInfo, Operation, SoftwareAgent, SoundstageRecord, read_credentials, sign_file,
)
from soundstage.safeguards.watermark import audio_samples
from soundstage.testing.independent_reader import NODE_MODULES, read_with_c2pa_wasm

pytestmark = pytest.mark.slow

if not NODE_MODULES.is_dir() and not os.environ.get("CI"):
    pytest.skip(f"the independent reader is not installed ({NODE_MODULES} is absent): run `make install`",
                allow_module_level=True)


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> tuple[list[Path], list[Path], bytes]:
    root = tmp_path_factory.mktemp("audio")
    keys = create_production_ca(root / "keys", "Night Shoot", "s3cret")
    credentials = load_signer(keys.directory, "s3cret")
    line = audio_samples.speech_like(2.0, 48_000, seed=3)
    spec = ManifestSpec(operation=Operation.GENERATED, title="synthetic line", generator=SoftwareAgent("tts", "1.0"),
                        model=ModelInfo("tiny-tts", "1.0", "ab" * 32, "Apache-2.0", "consented recordings"),
                        record=SoundstageRecord("prod", "job-1", "00000000000000a1", ()))
    files, tampered = [], []
    for suffix in (".wav", ".mp3", ".m4a"):
        out = root / f"line{suffix}"
        sign_file(write_audio(root / f"raw{suffix}", line, 48_000), out, spec, credentials)
        files.append(out)
        data = bytearray(out.read_bytes())
        # one byte of audio, away from the manifest: inside the WAV data chunk / the M4A mdat box, or
        # near the end of an MP3 (whose manifest is in the ID3 tag at its start)
        where = {".wav": data.find(b"data") + 2000, ".m4a": data.find(b"mdat") + 2000}.get(suffix, len(data) - 200)
        data[where] ^= 0x01
        bad = root / f"tampered{suffix}"
        bad.write_bytes(bytes(data))
        tampered.append(bad)
    return files, tampered, keys.ca_cert.read_bytes()


def test_both_readers_agree_on_signed_audio(signed):
    files, _, ca = signed
    for path, wasm in zip(files, read_with_c2pa_wasm(files, trust_anchors=[ca])):
        ours = read_credentials(path, trust_anchors=[ca])
        assert wasm.state == ours.state.value == "Trusted", path.name
        assert set(wasm.status_codes) == set(ours.status_codes), path.name
        assert wasm.active_manifest == ours.active_manifest
        actions = wasm.store["manifests"][wasm.active_manifest]["assertions"]
        assert IPTC + "trainedAlgorithmicMedia" in str(actions)


def test_both_readers_call_changed_audio_invalid(signed):
    _, tampered, ca = signed
    for path, wasm in zip(tampered, read_with_c2pa_wasm(tampered, trust_anchors=[ca])):
        assert wasm.state == read_credentials(path, trust_anchors=[ca]).state.value == "Invalid", path.name
