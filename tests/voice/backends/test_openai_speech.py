"""The OpenAI-compatible speech engine against a protocol-faithful local server (real HTTP, real audio)."""

from __future__ import annotations

import numpy as np
import pytest

from soundstage.errors import BackendError, RefusedError, SpecError
from soundstage.testing.fake_voice_server import FakeOpenAISpeech, speak
from soundstage.voice.backends.openai_speech import OpenAISpeech
from soundstage.voice.protocol import VoiceRequest


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("STUDIO_TTS_KEY", "sk-test")
    with FakeOpenAISpeech(api_key="sk-test") as srv:
        yield srv


def engine(server, **over):
    config = {"model": "tts-studio", "base_url": server.url + "/v1", "api_key_env": "STUDIO_TTS_KEY",
              "voices": {"p-maya": "maya-v2"}, "backoff_s": 0, "retries": 2, **over}
    return OpenAISpeech("studio.tts", config)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "aac"])
def test_each_format_decodes_to_the_servers_speech(server, fmt):
    speech = engine(server, response_format=fmt).synthesize(VoiceRequest("Where were you?", "p-maya"), {"speed": 1.25})
    sent = server.requests_to("/v1/audio/speech")[-1]
    assert sent.headers["Authorization"] == "Bearer sk-test"
    assert sent.json == {"model": "tts-studio", "input": "Where were you?", "voice": "maya-v2",
                         "response_format": fmt, "speed": 1.25}
    truth = speak("Where were you?", "maya-v2", 1.25)
    got = speech.samples[:, 0]
    assert speech.sample_rate == 24000
    if fmt == "wav":
        assert np.abs(got - truth).max() < 1e-4
    else:  # lossy: the same sound (codec delay aside), measured by the best-lag correlation
        n = min(len(truth), len(got)) - 4000

        def best(reference):
            return max(np.corrcoef(reference[:n], got[lag:lag + n])[0, 1] for lag in range(0, 3000))

        assert best(truth) > 0.8
        assert best(speak("Where were you?", "noel-v1", 1.25)) < 0.5  # another voice is not this sound


def test_retries_429_and_5xx_then_succeeds(server):
    server.script("/v1/audio/speech", 429, {"error": {"message": "Rate limit reached"}})
    server.script("/v1/audio/speech", 503, {"error": {"message": "overloaded"}})
    speech = engine(server).synthesize(VoiceRequest("Hi.", "p-maya"), {})
    assert len(server.requests_to("/v1/audio/speech")) == 3 and speech.samples.size > 0


def test_gives_up_after_bounded_retries_with_the_servers_message(server):
    for _ in range(3):
        server.script("/v1/audio/speech", 500, {"error": {"message": "engine crashed"}})
    with pytest.raises(BackendError, match="failed after 3 attempts: HTTP 500: engine crashed"):
        engine(server).synthesize(VoiceRequest("Hi.", "p-maya"), {})


def test_a_4xx_fails_at_once_with_its_message(server, monkeypatch):
    monkeypatch.setenv("STUDIO_TTS_KEY", "sk-wrong")
    with pytest.raises(BackendError, match="HTTP 401: Incorrect API key"):
        engine(server).synthesize(VoiceRequest("Hi.", "p-maya"), {})
    assert len(server.requests_to("/v1/audio/speech")) == 1


def test_not_audio_and_oversized_answers_are_refused(server):
    server.script("/v1/audio/speech", 200, b"<html>hello</html>", content_type="audio/wav")
    with pytest.raises(BackendError, match="not wav audio"):
        engine(server).synthesize(VoiceRequest("Hi.", "p-maya"), {})
    long_line = "a" * 1100  # 66 s of speech at 60 ms a character: over the 60 s a line may last
    with pytest.raises(BackendError, match="more than 60 s|60 s"):
        engine(server).synthesize(VoiceRequest(long_line, "p-maya"), {})


def test_the_voice_is_the_registrys_never_the_jobs(server):
    with pytest.raises(RefusedError, match="no voice registered for performer p-noel"):
        engine(server).synthesize(VoiceRequest("Hi.", "p-noel"), {})
    assert server.requests_to("/v1/audio/speech") == []


def test_secrets_never_in_the_config():
    with pytest.raises(SpecError, match="holds a secret"):
        OpenAISpeech("x", {"model": "m", "api_key": "sk-live"})
    with pytest.raises(SpecError, match="response_format"):
        OpenAISpeech("x", {"model": "m", "response_format": "ogg"})
