"""Shared fixtures of the generator tests: a tiny LTX-Video pipeline built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_ltx(tmp_path_factory) -> Path:
    """A randomly initialised LTX-Video pipeline on disk (~0.6 MB, built in a few seconds, nothing
    downloaded): text-to-video and image-to-video both load it."""
    from soundstage.testing.tiny_diffusers import build_tiny_ltx

    return build_tiny_ltx(tmp_path_factory.mktemp("tiny-ltx") / "ltx")


@pytest.fixture(scope="session")
def tiny_wan(tmp_path_factory) -> Path:
    """A randomly initialised Wan text-to-video pipeline on disk (~0.3 MB, nothing downloaded)."""
    from soundstage.testing.tiny_diffusers import build_tiny_wan

    return build_tiny_wan(tmp_path_factory.mktemp("tiny-wan") / "wan")


@pytest.fixture(scope="session")
def tiny_cogvideox(tmp_path_factory) -> Path:
    """A randomly initialised CogVideoX text-to-video pipeline on disk (nothing downloaded)."""
    from soundstage.testing.tiny_diffusers import build_tiny_cogvideox

    return build_tiny_cogvideox(tmp_path_factory.mktemp("tiny-cogvideox") / "cogvideox")


@pytest.fixture(scope="session")
def tiny_cogvideox_i2v(tmp_path_factory) -> Path:
    """A randomly initialised CogVideoX image-to-video pipeline (its own checkpoint, as published)."""
    from soundstage.testing.tiny_diffusers import build_tiny_cogvideox

    return build_tiny_cogvideox(tmp_path_factory.mktemp("tiny-cogvideox-i2v") / "cogvideox_i2v", image_to_video=True)
