"""An OpenAI-compatible speech API: ``POST {base_url}/audio/speech``.

Request body (JSON): ``model``, ``input`` (the line), ``voice``, ``response_format`` (wav | mp3 |
aac), ``speed`` (0.25-4.0); the answer is the audio bytes. The API key is read from the environment
variable named in ``api_key_env`` (never stored in the registry, which records the config). Retries
on 408/429/5xx with backoff, one-line errors on 4xx, and a bounded response (the shared HTTP helper).

Config (the model record's, server-owned): ``model`` (required), ``base_url`` (default
https://api.openai.com/v1), ``api_key_env``, ``voices`` (performer id -> the service's voice id
for that performer: a job names the performer, never a voice id), ``response_format`` (default
wav), ``timeout_s``/``retries``/``backoff_s``, card fields (``licence``, ``training_data``,
``stores_inputs``... - unstated, a remote service is assumed to keep and train on what it gets).
"""

from __future__ import annotations

from typing import Any, Mapping

from soundstage.domain.params import Param
from soundstage.domain.safeguards import ModelCard
from soundstage.errors import RefusedError, SpecError
from soundstage.generate.backends._http import bearer_headers, HttpSettings, openai_base_url, refuse_secrets, request
from soundstage.generate.backends.comfyui_http import remote_card
from soundstage.voice.pcm import decode_bytes
from soundstage.voice.protocol import Speech, VoiceRequest, check_speech

SERVICE = "speech service"
FORMATS = ("wav", "mp3", "aac")


class OpenAISpeech:
    """Voice engine "openai-speech"."""

    name = "openai-speech"
    PARAMS = (Param("speed", "float", "Speaking rate (1.0 as recorded).", 1.0, 0.25, 4.0),)

    def __init__(self, model_id: str, config: Mapping[str, Any] | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})
        refuse_secrets(self.config)
        if not self.config.get("model"):
            raise SpecError("an openai-speech voice model needs config.model (the service's model name)",
                            field="config.model")
        fmt = str(self.config.get("response_format") or "wav")
        if fmt not in FORMATS:
            raise SpecError(f"response_format {fmt!r} is not one of {', '.join(FORMATS)}",
                            field="config.response_format")
        self.format = fmt

    def model_card(self) -> ModelCard:
        return remote_card(self.model_id, self.config, f"{self.config['model']} at {self._base_url()}")

    def _base_url(self) -> str:
        return openai_base_url(self.config)

    def _headers(self) -> dict[str, str]:
        return bearer_headers(self.config)

    def voice_for(self, performer: str) -> str:
        voices = self.config.get("voices") or {}
        voice = voices.get(performer) if isinstance(voices, Mapping) else None
        if not voice:
            raise RefusedError(f"voice model {self.model_id!r} has no voice registered for performer {performer}",
                               hint="the model record's config.voices maps each consented performer to the "
                                    "service's voice id")
        return str(voice)

    def synthesize(self, req: VoiceRequest, params: Mapping[str, Any]) -> Speech:
        import httpx

        body = {"model": str(self.config["model"]), "input": req.text, "voice": self.voice_for(req.performer),
                "response_format": self.format, "speed": float(params.get("speed", req.speed) or 1.0)}
        settings = HttpSettings.from_config(self.config)
        with httpx.Client(headers=self._headers()) as client:
            response = request(client, "POST", f"{self._base_url()}/audio/speech", service=SERVICE,
                               settings=settings, json=body)
        samples, rate = decode_bytes(response.content, self.format, service=SERVICE)
        return check_speech(Speech(samples, rate, self.name, {"voice": body["voice"], "format": self.format}),
                            engine=SERVICE)
