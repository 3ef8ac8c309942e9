"""voice enroll | reference | adr | dub | line | jobs - a performer's voice, through the guard.

A voice job names the performer, never a voice file: their enrolled voice reference (enrolled only
under a consent that covers voice) is added by the service and checked by the guard. The policy
decides exactly as for a likeness (docs/decisions/DR018-voice-consent-and-jobs.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from soundstage.errors import InputError, NotFoundError
from soundstage.interfaces.cli import access, common

voice = typer.Typer(no_args_is_help=True)

_MODEL = typer.Option(..., "--model", help="The registered voice model (backend 'voice').")
_SCENE = typer.Option(None, "--scene")
_SHOT = typer.Option(None, "--shot")
_FINAL = typer.Option(False, "--final", help="A final deliverable (not temporary previz).")
_TERRITORY = typer.Option("worldwide", "--territory", help="Where the output is distributed (the consent must cover it).")
_SPEED = typer.Option(None, "--speed", min=0.25, max=4.0, help="Speaking rate (the engine bounds it further).")
_SEED = typer.Option(0, "--seed")
_JSON = typer.Option(False, "--json")
_NO_WAIT = typer.Option(False, "--no-wait", help="Queue it for a worker and return.")
_START = typer.Option(None, "--start", help="Start of the range: seconds, HH:MM:SS.s or the plate's timecode.")
_END = typer.Option(None, "--end", help="End of the range (same forms).")
_CROSSFADE = typer.Option(None, "--crossfade-ms", min=0, max=500, help="Crossfade at each edge [default: 20].")


def register(app: typer.Typer) -> None:
    app.add_typer(voice, name="voice", help="A performer's voice: enrol a reference, ADR, dubbing, synthetic lines.")


@voice.command("enroll")
def voice_enroll(performer: str, audio: Path = typer.Argument(..., help="A WAV, MP3, M4A or FLAC recording."),
                 json_out: bool = _JSON) -> None:
    """Enrol a performer's voice reference (needs an active consent naming a voice operation;
    revoking it quarantines the reference)."""
    from soundstage.services.talent_service import show_performer
    from soundstage.services.voice_service import enroll_voice

    with common.open_ws() as ws:
        target = show_performer(ws, performer)
        access.check_scope([target["id"]], f"performer {target['name']}")
        ref = enroll_voice(ws, target["id"], audio, actor=common.actor())
    if json_out:
        common.emit_json(ref.to_dict())
    else:
        common.console.print(f"voice reference enrolled as asset {ref.asset} ({ref.seconds:.1f} s, under consent "
                             f"{', '.join(ref.consents)})")


@voice.command("reference")
def voice_reference(performer: str, json_out: bool = _JSON) -> None:
    """Show a performer's active voice reference."""
    from soundstage.services.voice_service import voice_reference as find

    with common.open_ws() as ws:
        ref = find(ws, performer)
    if ref is None:
        raise NotFoundError(f"{performer} has no active voice reference",
                            hint="soundstage voice enroll PERFORMER FILE (under a consent that covers voice)")
    common.emit_json(ref.to_dict()) if json_out else common.console.print(
        f"{ref.performer}: asset {ref.asset} {ref.name} ({ref.seconds:.1f} s at {ref.sample_rate} Hz)")


def _submit(operation: str, performer: str, line: str, *, model: str, plate: str | None, start: str | None,
            end: str | None, crossfade_ms: int | None, language: str | None, speed: float | None, scene: str | None,
            shot: str | None, final: bool, territory: str, seed: int, as_json: bool, wait: bool) -> None:
    from soundstage.services import voice_service

    with common.open_ws() as ws:
        spec = voice_service.build_voice_job(
            ws, operation, performer, line, requested_by=common.actor(), model_id=model, plate=plate, start=start,
            end=end, crossfade_ms=crossfade_ms, language=language, speed=speed, scene=scene, shot=shot,
            deliverable="final" if final else "temporary", medium="final" if final else "previz",
            territory=territory, seed=seed)
        result = voice_service.submit_voice_job(ws, spec, actor=common.actor(), wait=wait)
    common.report_submitted(result, as_json)


@voice.command("adr")
def voice_adr(performer: str, plate: str = typer.Argument(..., help="The plate (asset id) whose line is replaced."),
              line: str = typer.Option(..., "--line", help="The line to speak."), start: str = _START,
              end: str = _END, crossfade_ms: int | None = _CROSSFADE, model: str = _MODEL,
              speed: float | None = _SPEED, scene: str | None = _SCENE, shot: str | None = _SHOT, final: bool = _FINAL,
              territory: str = _TERRITORY, seed: int = _SEED, as_json: bool = _JSON, no_wait: bool = _NO_WAIT) -> None:
    """Replace a line in a plate's audio (a timecoded range) with the performer's voice; the picture
    is untouched."""
    if start is None or end is None:
        raise InputError("ADR replaces a range of the plate's audio: give --start and --end")
    _submit("adr", performer, line, model=model, plate=plate, start=start, end=end, crossfade_ms=crossfade_ms,
            language=None, speed=speed, scene=scene, shot=shot, final=final, territory=territory, seed=seed,
            as_json=as_json, wait=not no_wait)


@voice.command("dub")
def voice_dub(performer: str, line: str = typer.Option(..., "--line", help="The dubbed line."),
              language: str = typer.Option(..., "--language", help="BCP 47, e.g. fr-FR."),
              plate: str | None = typer.Option(None, "--plate", help="Replace a range of this plate's audio."),
              start: str | None = _START, end: str | None = _END, crossfade_ms: int | None = _CROSSFADE,
              model: str = _MODEL, speed: float | None = _SPEED, scene: str | None = _SCENE, shot: str | None = _SHOT,
              final: bool = _FINAL, territory: str = _TERRITORY, seed: int = _SEED, as_json: bool = _JSON,
              no_wait: bool = _NO_WAIT) -> None:
    """Dub a line into another language in the performer's voice (a WAV, or a range of a plate)."""
    _submit("dub", performer, line, model=model, plate=plate, start=start, end=end, crossfade_ms=crossfade_ms,
            language=language, speed=speed, scene=scene, shot=shot, final=final, territory=territory, seed=seed,
            as_json=as_json, wait=not no_wait)


@voice.command("line")
def voice_line(performer: str, line: str = typer.Option(..., "--line", help="A line the performer never recorded."),
               model: str = _MODEL, speed: float | None = _SPEED, scene: str | None = _SCENE,
               shot: str | None = _SHOT, final: bool = _FINAL, territory: str = _TERRITORY, seed: int = _SEED,
               as_json: bool = _JSON, no_wait: bool = _NO_WAIT) -> None:
    """Synthesise a line the performer never recorded (a marked, signed WAV)."""
    _submit("line", performer, line, model=model, plate=None, start=None, end=None, crossfade_ms=None,
            language=None, speed=speed, scene=scene, shot=shot, final=final, territory=territory, seed=seed,
            as_json=as_json, wait=not no_wait)


@voice.command("jobs")
def voice_jobs(limit: int = typer.Option(50, "--limit", min=1, max=1000), json_out: bool = _JSON) -> None:
    """The production's voice jobs, newest first."""
    from soundstage.services.voice_service import list_voice_jobs

    with common.open_ws() as ws:
        rows = list_voice_jobs(ws, limit)
    if json_out:
        common.emit_json(rows)
        return
    for row in rows:
        spec = row["spec"]
        common.console.print(f"{row['id']}  {row['status']:<9} {spec['operation']:<20} "
                             f"{', '.join(spec['performers'])}  {spec['prompt'][:50]!r}")
