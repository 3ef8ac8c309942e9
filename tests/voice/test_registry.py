"""The voice engine registry: one table feeding the job backend, CLI, API and docs."""

from __future__ import annotations

import pytest

from soundstage.domain.safeguards import VOICE_OPERATIONS
from soundstage.errors import NotFoundError, SpecError
from soundstage.generate.registry import available, get_generator, operation_params
from soundstage.voice.protocol import VoiceEngine
from soundstage.voice.registry import ENGINES, VOICE_BACKEND, VOICE_OPERATION_NAMES, get_engine


def test_names_cover_exactly_the_voice_operations_and_the_backend_is_registered():
    assert set(VOICE_OPERATION_NAMES.values()) == {o.value for o in VOICE_OPERATIONS}
    assert VOICE_BACKEND in available()


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_every_engine_builds_from_its_example_config_and_declares_per_operation(engine):
    config = {"engine": engine, **ENGINES[engine].example_config}
    assert isinstance(get_engine("m", config), VoiceEngine)
    generator = get_generator("m", VOICE_BACKEND, config)
    for op in VOICE_OPERATIONS:
        names = [p.name for p in operation_params(generator, op.value)]
        assert names[0] == "speed" and names[-1] == "seed"
        assert ("start" in names) == (op.value != "voice.synthetic_line")
        assert ("language" in names) == (op.value == "voice.dub")
    with pytest.raises(SpecError, match="does not perform likeness_deage"):
        operation_params(generator, "likeness_deage")


def test_an_unknown_or_missing_engine_is_named():
    with pytest.raises(NotFoundError, match="names engine 'espeak'"):
        get_engine("m", {"engine": "espeak"})
    with pytest.raises(NotFoundError, match=r"\(none\)"):
        get_generator("m", VOICE_BACKEND, {})
