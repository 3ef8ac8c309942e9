"""A tiny, randomly initialised local voice model (``voice.backends.local_tts``), built in tests.

Nothing is downloaded: the weights are made here from a seed, saved as a weights directory, and
registered by their digest exactly as a studio's own checkpoint would be.
"""

from __future__ import annotations

from pathlib import Path

TINY_CONFIG = {"sample_rate": 16000, "n_fft": 512, "hop": 160, "n_mels": 32, "dim": 32, "frames_per_char": 6}


def build_tiny_voice(path: Path, seed: int = 0) -> tuple[Path, str]:
    """(weights directory, its registry digest)."""
    import torch

    from soundstage.generate.backends.diffusers_local import weights_digest
    from soundstage.voice.backends.local_tts import _torch_model, save_model

    torch.manual_seed(seed)
    model = _torch_model(TINY_CONFIG)
    with torch.no_grad():
        model.conv2.bias.add_(2.0)  # audible: log-mels around e^2 before the speaker shift
    save_model(model, TINY_CONFIG, Path(path))
    return Path(path), weights_digest(path)
