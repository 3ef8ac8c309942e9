"""The one table of voice engines, feeding the voice job backend, the CLI, the API and the docs.

A model record names backend ``voice`` and, in its config, the ``engine`` that speaks (one of
``ENGINES``) with that engine's own settings. Listing never imports an engine; ``get_engine``
imports exactly one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Mapping

from soundstage.errors import NotFoundError, SpecError
from soundstage.voice.protocol import VoiceEngine

__all__ = ["EngineDef", "ENGINES", "VOICE_BACKEND", "VOICE_OPERATION_NAMES", "get_engine", "engine_names"]

#: the backend name model records use for voice models (generate.registry.BACKENDS)
VOICE_BACKEND = "voice"

@dataclass(frozen=True)
class EngineDef:
    """One voice engine: where its class lives, what it is, and a model-record config that shows its
    settings (the guides' parameter tables are generated from an engine built with it)."""

    target: str
    description: str
    example_config: Mapping[str, Any] = field(default_factory=dict)


#: engine name -> its definition
ENGINES: dict[str, EngineDef] = {
    "openai-speech": EngineDef("soundstage.voice.backends.openai_speech:OpenAISpeech",
                               "an OpenAI-compatible speech API (POST /v1/audio/speech)",
                               {"model": "tts-studio", "base_url": "https://speech.example/v1",
                                "api_key_env": "STUDIO_TTS_KEY", "voices": {"t-performer": "studio-voice-id"}}),
    "local-tts": EngineDef("soundstage.voice.backends.local_tts:LocalTTS",
                           "a studio's own text-to-speech weights on this machine, verified against the registry",
                           {"path": "/models/studio-voice", "weights_sha256": "(weights_digest of the directory)"}),
}

#: CLI/API short name -> job operation
VOICE_OPERATION_NAMES: dict[str, str] = {
    "adr": "voice.adr",
    "dub": "voice.dub",
    "line": "voice.synthetic_line",
}


def engine_names() -> tuple[str, ...]:
    return tuple(ENGINES)


def get_engine(model_id: str, config: Mapping[str, Any]) -> VoiceEngine:
    name = str(config.get("engine") or "")
    if name not in ENGINES:
        raise NotFoundError(f"voice model {model_id!r} names engine {name or '(none)'!r}",
                            hint="config.engine is one of: " + ", ".join(ENGINES))
    module_name, _, attr = ENGINES[name].target.partition(":")
    engine = getattr(import_module(module_name), attr)(model_id=model_id, config=dict(config))
    if not isinstance(engine, VoiceEngine):
        raise SpecError(f"voice engine {name!r} does not implement the VoiceEngine protocol")
    return engine
