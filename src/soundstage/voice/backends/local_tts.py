"""A studio's own text-to-speech weights, run on this machine and verified against the registry.

The network (``TinyTTS``'s shape is the contract a studio's checkpoint meets): UTF-8 bytes of the
line -> byte embedding -> two 1-D convolutions -> a log-mel frame per byte, repeated
``frames_per_char`` times, shifted by a projection of the performer's voice (the mean log-mel of
their enrolled reference) -> linear magnitude through the mel filterbank's normalised transpose ->
Griffin-Lim -> waveform. Deterministic for a line, a reference and the weights.

A weights directory holds ``voice.safetensors`` and ``voice.json`` (sample_rate, n_fft, hop,
n_mels, dim, frames_per_char). Its digest is ``weights_digest`` (the diffusers backend's: the
sha256 over each weight file's sha256), and the engine refuses weights whose digest is not the one
the model registry recorded: the record must name what runs. Nothing is downloaded, ever.

Config: ``path`` (the weights directory), ``weights_sha256`` (the registered digest), ``threads``
(torch threads for one line, default 1), card fields
(``name``, ``version``, ``licence``, ``training_data``, ``evidence``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from soundstage.domain.params import Param
from soundstage.domain.safeguards import ModelCard
from soundstage.errors import NotFoundError, RefusedError, SpecError
from soundstage.voice.protocol import MAX_LINE_SECONDS, Speech, VoiceRequest, check_speech

WEIGHTS_FILE, CONFIG_FILE = "voice.safetensors", "voice.json"
VOCAB = 256
MAX_DIM, MAX_MELS = 1024, 256
GRIFFIN_LIM_ITERS = 24


def _torch_model(cfg: Mapping[str, int]):
    """The network, built from its config (weights loaded by the caller)."""
    import torch
    from torch import nn

    class TinyTTS(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            dim, mels = int(cfg["dim"]), int(cfg["n_mels"])
            self.embed = nn.Embedding(VOCAB, dim)
            self.conv1 = nn.Conv1d(dim, dim, 5, padding=2)
            self.conv2 = nn.Conv1d(dim, mels, 5, padding=2)
            self.speaker = nn.Linear(mels, mels)

        def forward(self, codes, voice):  # codes (1, T) int64, voice (1, mels)
            x = self.embed(codes).transpose(1, 2)
            x = torch.tanh(self.conv1(x))
            mel = self.conv2(x) + self.speaker(voice)[:, :, None]  # (1, mels, T)
            return mel

    return TinyTTS()


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, n_fft//2+1) triangular filters on the mel scale (HTK formula)."""
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    points = mel_to_hz(np.linspace(hz_to_mel(60.0), hz_to_mel(sample_rate / 2 * 0.95), n_mels + 2))
    bank = np.zeros((n_mels, freqs.size), np.float32)
    for i in range(n_mels):
        lo, mid, hi = points[i], points[i + 1], points[i + 2]
        bank[i] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    return bank


def voice_print(samples: np.ndarray, rate: int, cfg: Mapping[str, int]) -> np.ndarray:
    """The mean log-mel spectrum of a reference recording: what conditions the voice."""
    from soundstage.voice.pcm import resample

    mono = resample(np.asarray(samples, np.float32).reshape(len(samples), -1), rate, int(cfg["sample_rate"]))
    mono = mono.mean(axis=1)
    n_fft, hop = int(cfg["n_fft"]), int(cfg["hop"])
    if mono.size < n_fft:
        mono = np.pad(mono, (0, n_fft - mono.size))
    frames = np.lib.stride_tricks.sliding_window_view(mono, n_fft)[::hop] * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return np.log(power @ mel_filterbank(int(cfg["sample_rate"]), n_fft, int(cfg["n_mels"])).T + 1e-6).mean(axis=0)


def load_config(path: Path) -> dict:
    try:
        cfg = json.loads((path / CONFIG_FILE).read_text())
    except FileNotFoundError:
        raise NotFoundError(f"{path} has no {CONFIG_FILE}") from None
    except ValueError as exc:
        raise SpecError(f"{CONFIG_FILE} is not JSON ({exc})", source=str(path)) from None
    need = {"sample_rate": (8000, 48000), "n_fft": (64, 4096), "hop": (16, 2048), "n_mels": (8, MAX_MELS),
            "dim": (4, MAX_DIM), "frames_per_char": (1, 40)}
    out = {}
    for key, (lo, hi) in need.items():
        value = cfg.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise SpecError(f"{CONFIG_FILE}: {key} must be an integer {lo}-{hi}", source=str(path))
        out[key] = value
    return out


def save_model(model, cfg: Mapping[str, int], path: Path) -> Path:
    """Write a model's weights and config as a weights directory (used by studios and by tests)."""
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path / WEIGHTS_FILE))
    (path / CONFIG_FILE).write_text(json.dumps(dict(cfg), sort_keys=True))
    return path


class LocalTTS:
    """Voice engine "local-tts"."""

    name = "local-tts"
    PARAMS = (Param("speed", "float", "Speaking rate (1.0 as trained).", 1.0, 0.5, 2.0),)

    def __init__(self, model_id: str, config: Mapping[str, Any] | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})
        if not self.config.get("path"):
            raise SpecError("a local-tts voice model needs config.path (its weights directory)", field="config.path")
        self.path = Path(str(self.config["path"]))

    def model_card(self) -> ModelCard:
        from soundstage.generate.backends.diffusers_local import weights_digest

        digest = self.config.get("weights_sha256") or (weights_digest(self.path) if self.path.is_dir() else None)
        return ModelCard(id=self.model_id, name=str(self.config.get("name") or f"voice weights {self.path.name}"),
                         version=str(self.config.get("version", "")), licence=str(self.config.get("licence", "")),
                         weights_sha256=digest, training_data=str(self.config.get("training_data", "unknown")),
                         evidence=str(self.config.get("evidence", "")), stores_inputs=False, trains_on_inputs=False,
                         runs_in_production_env=True, trained_model=True, generative=True)

    def verify_weights(self) -> str:
        """Refuse weights that are not the ones the registry recorded; returns the digest."""
        from soundstage.generate.backends.diffusers_local import weights_digest

        expected = str(self.config.get("weights_sha256") or "").lower()
        if not expected:
            raise RefusedError(f"voice model {self.model_id!r} has no registered weights_sha256 to verify its "
                               "weights against", hint="register the digest from weights_digest(path)")
        actual = weights_digest(self.path)
        if actual != expected:
            raise RefusedError(f"voice weights in {self.path} do not match model {self.model_id!r}'s registered "
                               f"weights_sha256 (registered {expected[:12]}..., on disk {actual[:12]}...)")
        return actual

    def synthesize(self, req: VoiceRequest, params: Mapping[str, Any]) -> Speech:
        import torch
        from safetensors.torch import load_file

        digest = self.verify_weights()
        cfg = load_config(self.path)
        model = _torch_model(cfg)
        model.load_state_dict(load_file(str(self.path / WEIGHTS_FILE)))
        model.eval()
        if req.reference is None:
            raise RefusedError(f"no enrolled voice reference for performer {req.performer}; a voice is synthesised "
                               "only from a reference enrolled under consent")
        from soundstage.voice.pcm import read_track

        ref, ref_rate = read_track(req.reference, max_seconds=300.0)
        vp = torch.from_numpy(voice_print(ref, ref_rate, cfg).astype(np.float32))[None]
        codes = torch.tensor([list(req.text.encode("utf-8"))[:2000]], dtype=torch.long)
        speed = float(params.get("speed", req.speed) or 1.0)
        repeat = max(1, int(round(cfg["frames_per_char"] / speed)))
        # a line is small work: a bounded thread count (config.threads, the model record's) keeps a
        # worker from oversubscribing a shared machine (measured: 26 s with all threads on a box at
        # load 20, 0.7 s with one; docs/decisions/DR018)
        previous = torch.get_num_threads()
        torch.set_num_threads(max(1, min(int(self.config.get("threads") or 1), 64)))
        try:
            with torch.no_grad():
                mel = model(codes, vp).repeat_interleave(repeat, dim=2)[0]  # (mels, frames)
            frames = mel.shape[1]
            if frames * cfg["hop"] > MAX_LINE_SECONDS * cfg["sample_rate"]:
                raise RefusedError(f"the line would last over {MAX_LINE_SECONDS:.0f} s; split it")
            bank = torch.from_numpy(mel_filterbank(cfg["sample_rate"], cfg["n_fft"], cfg["n_mels"]))
            # mel -> linear magnitude by the filterbank's normalised transpose (non-negative and smooth,
            # unlike a pseudo-inverse whose negative lobes clamp to spectral holes)
            weights = bank.T / torch.clamp(bank.sum(dim=0), min=1e-6)[:, None]
            magnitude = weights @ torch.exp(torch.clamp(mel, -12, 6))
            audio = griffin_lim(magnitude, cfg["n_fft"], cfg["hop"])
        finally:
            torch.set_num_threads(previous)
        peak = float(audio.abs().max()) or 1.0
        samples = (audio / peak * 0.5).numpy().astype(np.float32)[:, None]
        return check_speech(Speech(samples, cfg["sample_rate"], self.name, {"weights_sha256": digest}),
                            engine=f"voice model {self.model_id}")


def griffin_lim(magnitude, n_fft: int, hop: int, iters: int = GRIFFIN_LIM_ITERS):
    """Phase from magnitude (deterministic: the first estimate has zero phase)."""
    import torch

    window = torch.hann_window(n_fft)
    spec = magnitude.to(torch.complex64)
    length = (magnitude.shape[1] - 1) * hop
    audio = torch.istft(spec, n_fft, hop, window=window, length=length)
    for _ in range(iters):
        rebuilt = torch.stft(audio, n_fft, hop, window=window, return_complex=True)
        phase = rebuilt / torch.clamp(rebuilt.abs(), min=1e-8)
        audio = torch.istft(magnitude * phase, n_fft, hop, window=window, length=length)
    return audio
