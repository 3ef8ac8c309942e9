"""The local-weights voice engine with a tiny randomly initialised model built here (nothing downloaded)."""

from __future__ import annotations

import numpy as np
import pytest

from soundstage.errors import RefusedError
from soundstage.testing.fake_voice_server import speak
from soundstage.testing.tiny_voice import build_tiny_voice
from soundstage.voice.backends.local_tts import WEIGHTS_FILE, LocalTTS
from soundstage.voice.pcm import write_wav16
from soundstage.voice.protocol import VoiceRequest


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("voice")
    path, digest = build_tiny_voice(root / "weights", seed=1)
    ref_a = write_wav16(root / "a.wav", speak("a reference of maya reading", "maya", rate=16000), 16000)
    ref_b = write_wav16(root / "b.wav", speak("a reference of noel reading", "noel-deep", rate=16000), 16000)
    return path, digest, ref_a, ref_b


def test_speaks_deterministically_in_the_reference_voice(tiny):
    path, digest, ref_a, ref_b = tiny
    engine = LocalTTS("studio.voice", {"path": str(path), "weights_sha256": digest})
    one = engine.synthesize(VoiceRequest("We should go.", "p-1", ref_a), {})
    again = engine.synthesize(VoiceRequest("We should go.", "p-1", ref_a), {})
    other_voice = engine.synthesize(VoiceRequest("We should go.", "p-1", ref_b), {})
    other_line = engine.synthesize(VoiceRequest("We should stay here.", "p-1", ref_a), {})
    assert one.sample_rate == 16000 and one.samples.shape[1] == 1
    assert np.array_equal(one.samples, again.samples)
    assert not np.allclose(one.samples, other_voice.samples[:len(one.samples)], atol=1e-3)
    assert other_line.samples.shape[0] > one.samples.shape[0]  # longer line, longer speech
    assert float(np.sqrt(np.mean(one.samples ** 2))) > 0.01  # audible, not silence
    assert one.details["weights_sha256"] == digest
    slower = engine.synthesize(VoiceRequest("We should go.", "p-1", ref_a), {"speed": 0.5})
    assert slower.samples.shape[0] > 1.8 * one.samples.shape[0]


def test_weights_that_are_not_the_registered_ones_never_run(tiny, tmp_path):
    path, digest, ref_a, _ = tiny
    with pytest.raises(RefusedError, match="no registered weights_sha256"):
        LocalTTS("studio.voice", {"path": str(path)}).synthesize(VoiceRequest("Hi.", "p-1", ref_a), {})
    swapped, _ = build_tiny_voice(tmp_path / "swapped", seed=2)  # same shape, other weights
    engine = LocalTTS("studio.voice", {"path": str(swapped), "weights_sha256": digest})
    with pytest.raises(RefusedError, match="do not match"):
        engine.synthesize(VoiceRequest("Hi.", "p-1", ref_a), {})
    assert (swapped / WEIGHTS_FILE).is_file()


def test_no_reference_no_voice(tiny):
    path, digest, _, _ = tiny
    engine = LocalTTS("studio.voice", {"path": str(path), "weights_sha256": digest})
    with pytest.raises(RefusedError, match="enrolled under consent"):
        engine.synthesize(VoiceRequest("Hi.", "p-1", None), {})
