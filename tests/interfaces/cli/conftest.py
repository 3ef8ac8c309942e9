"""Fixtures for the CLI tests: ``soundstage`` run through its real entry point as a named person, and
a production with a voice model on a local speech server (the voice and audio plate tests)."""

from __future__ import annotations

from typing import Callable

import pytest

CliAs = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli_as(monkeypatch, capsys):
    """``cli_as(ws, tokens)``: a ``cli(*args, who=key)`` that runs ``soundstage -w <ws> *args`` with
    ``tokens[key]`` as SOUNDSTAGE_TOKEN and returns (exit code, stdout, stderr). No identity leaks in
    from the environment the tests run in."""
    from soundstage.interfaces.cli.app import main

    for name in ("SOUNDSTAGE_TOKEN", "SOUNDSTAGE_TOKEN_FILE", "SOUNDSTAGE_SINGLE_USER", "SOUNDSTAGE_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)

    def cli_as(ws, tokens: dict[str, str]) -> CliAs:
        def cli(*args: str, who: str) -> tuple[int, str, str]:
            with monkeypatch.context() as m:
                m.setenv("SOUNDSTAGE_TOKEN", tokens[who])
                capsys.readouterr()
                code = main(["-w", str(ws.settings.root), *args])
                out, err = capsys.readouterr()
            return code, out, err

        return cli

    return cli_as


@pytest.fixture
def voice_production(sqlite_workspace, tmp_path, monkeypatch, cli_as):
    """Crew with one role each, Maya Castell (SAG-AFTRA, represented by Lena Ortiz) with no voice
    consent yet, the ``studio.tts`` model on a local OpenAI-compatible speech server that has her
    voice, and a recording of her voice to enrol (``ref``, a WAV). Yields ws, maya, ref, tmp and ``cli``
    (see `cli_as`; ``who`` is the person's name)."""
    from soundstage.services import people_service, talent_service
    from soundstage.testing.fake_voice_server import FakeOpenAISpeech, register_speech_model, speak
    from soundstage.testing.identity import token_for
    from soundstage.voice.pcm import write_wav16

    ws = sqlite_workspace
    for name, roles in (("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                        ("Tom Reed", ["rights_clearance", "legal"]), ("Lena Ortiz", ["performer_rep"])):
        people_service.add_crew(ws, name, roles, actor="setup")
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"],
                            actor="setup")
    monkeypatch.setenv("STUDIO_TTS_KEY", "sk-test")
    with FakeOpenAISpeech(api_key="sk-test") as server:
        register_speech_model(ws, server, {maya["id"]: "maya-v2"})
        tokens = {n: token_for(ws, n) for n in ("Priya Shah", "Ken Ito", "Tom Reed", "Lena Ortiz")}
        ref = write_wav16(tmp_path / "maya.wav", speak("my voice reading the reference", "maya-v2"), 24000)
        yield {"ws": ws, "cli": cli_as(ws, tokens), "maya": maya, "ref": ref, "tmp": tmp_path}
