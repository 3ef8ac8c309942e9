"""vfx OPERATION | probe - operations on plates, through the guard.

One command per operation in the VFX operation registry; each command's options are generated
from the operation's declared parameters, so the CLI cannot offer what the guard would refuse."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import typer

from soundstage.domain.params import Param
from soundstage.errors import SpecError
from soundstage.interfaces.cli import common
from soundstage.vfx.registry import BUILTIN_OPERATIONS, CODEC, VfxOperationDef

vfx = typer.Typer(no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(vfx, name="vfx", help="VFX on plates: de-age, cosmetic, background, cleanup, place; probe media.")


def _run(operation: str, plate: str, *, performer: list[str], amount: float, scene: str | None, shot: str | None,
         extra: list[str], params: dict, as_json: bool, final: bool = False, model: str | None = None,
         wait: bool = True) -> None:
    from soundstage.services import vfx_service

    with common.open_ws() as ws:
        spec = vfx_service.build_vfx_job(ws, operation, plate, requested_by=common.actor(), performers=performer or [],
                                         amount=amount, scene=scene, shot=shot, extra_inputs=extra, params=params,
                                         deliverable="final" if final else "temporary",
                                         model_id=model or vfx_service.DEFAULT_VFX_MODEL,
                                         medium="final" if final else "previz")
        with common.progress() as bar:
            task = bar.add_task(f"vfx {operation}", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = vfx_service.submit_vfx_job(ws, spec, actor=common.actor(), progress=progress, wait=wait)
    common.report_submitted(result, as_json)


def _option(param: Param) -> tuple[object, object]:
    """(annotation, typer.Option) for a declared parameter: the CLI is generated from the registry."""
    flag = "--" + param.name.replace("_", "-")
    help_text = param.description + ("" if param.default is None else f" [default: {param.default}]")
    if param.type == "bool":
        return bool | None, typer.Option(None, f"{flag}/--no-{param.name.replace('_', '-')}", help=help_text,
                                         show_default=False)
    if param.type == "int":
        return int | None, typer.Option(None, flag, min=int(param.minimum), max=int(param.maximum), help=help_text,
                                        show_default=False)
    if param.type == "float":
        return float | None, typer.Option(None, flag, min=param.minimum, max=param.maximum, help=help_text,
                                          show_default=False)
    if param.type == "choice":
        return str | None, typer.Option(None, flag, help=f"{help_text} One of: {', '.join(param.choices)}.",
                                        show_default=False)
    if param.type == "json":
        return list[str] | None, typer.Option(None, flag, help=f"{help_text} Repeat it for a list; @FILE reads "
                                              "JSON from a file.", show_default=False)
    return str | None, typer.Option(None, flag, help=help_text, show_default=False)


def _json_value(values: list[str], name: str):
    """A declared json parameter from the CLI: ``@FILE`` (JSON in a file), one JSON text, or the
    repeated option's texts as a list (e.g. ``--corners 0:x1,y1,... --corners 24:...``)."""
    if len(values) == 1 and values[0].startswith("@"):
        path = Path(values[0][1:])
        try:
            if path.stat().st_size > 1024 * 1024:
                raise SpecError("the file is larger than 1 MB", field=f"params.{name}")
            return json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SpecError(f"cannot read {path.name}: {exc.strerror}", field=f"params.{name}") from None
        except ValueError:
            raise SpecError(f"{path.name} is not valid JSON", field=f"params.{name}") from None
    if len(values) == 1 and values[0].lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(values[0])
        except ValueError:
            raise SpecError("is not valid JSON", field=f"params.{name}") from None
    return list(values)


def _command_for(definition: VfxOperationDef):
    """One ``soundstage vfx NAME`` command per registered operation, its options from the declarations."""
    declared = (*definition.params, CODEC)
    P = inspect.Parameter
    fixed = [P("plate", P.POSITIONAL_OR_KEYWORD, annotation=str)]
    if definition.faces:
        fixed += [P("performer", P.KEYWORD_ONLY, annotation=list[str], default=_PERFORMER),
                  P("amount", P.KEYWORD_ONLY, annotation=float, default=typer.Option(
                      0.3, "--amount", min=0.0, max=1.0, help="Strength 0-1: the alteration the consent must cover."))]
    if definition.second_input:
        fixed.append(P("second", P.KEYWORD_ONLY, annotation=str, default=typer.Option(
            ..., f"--{definition.second_input}", help=f"The {definition.second_input} asset id.")))
    fixed += [P("scene", P.KEYWORD_ONLY, annotation=str | None, default=typer.Option(None, "--scene")),
              P("shot", P.KEYWORD_ONLY, annotation=str | None, default=typer.Option(None, "--shot"))]
    generated = []
    for param in declared:
        annotation, option = _option(param)
        generated.append(P(f"p_{param.name}", P.KEYWORD_ONLY, annotation=annotation, default=option))
    tail = [P("as_json", P.KEYWORD_ONLY, annotation=bool, default=_JSON),
            P("final", P.KEYWORD_ONLY, annotation=bool, default=_FINAL),
            P("model", P.KEYWORD_ONLY, annotation=str | None, default=_MODEL),
            P("no_wait", P.KEYWORD_ONLY, annotation=bool, default=_NO_WAIT)]

    def command(**kwargs) -> None:
        params = {p.name: kwargs[f"p_{p.name}"] for p in declared if kwargs.get(f"p_{p.name}") is not None}
        params.update({p.name: _json_value(params[p.name], p.name) for p in declared
                       if p.type == "json" and params.get(p.name)})
        _run(definition.name, kwargs["plate"], performer=kwargs.get("performer") or [],
             amount=kwargs.get("amount") or 0.0, scene=kwargs["scene"], shot=kwargs["shot"],
             extra=[kwargs["second"]] if definition.second_input else [], params=params, as_json=kwargs["as_json"],
             final=kwargs["final"], model=kwargs["model"], wait=not kwargs["no_wait"])

    command.__signature__ = inspect.Signature([*fixed, *generated, *tail])  # type: ignore[attr-defined]
    command.__name__ = definition.name
    command.__doc__ = definition.description
    return command


_PERFORMER = typer.Option(None, "--performer", help="Performer (name or id) whose likeness is altered.")
_JSON = typer.Option(False, "--json")
_FINAL = typer.Option(False, "--final", help="For the final cut (default: temporary work); final use escalates.")
_MODEL = typer.Option(None, "--model", help="A registered model with backend 'vfx' (default: the built-in ops).")
_NO_WAIT = typer.Option(False, "--no-wait", help="Only queue the job: a worker (soundstage worker, or the one "
                                                 "soundstage serve runs) takes it.")

for _definition in BUILTIN_OPERATIONS.values():
    vfx.command(_definition.name)(_command_for(_definition))


@vfx.command("track")
def track_cmd(plate: str, corners: list[str] = typer.Option(..., "--corners", help="Corner keyframes, as for "
                                                             "`vfx place` (repeat it; @FILE reads JSON)."),
              region: str | None = typer.Option(None, "--region", help="The planar region tracked in frame 0."),
              smoothing: float = typer.Option(0.2, "--smoothing", min=0.0, max=1.0),
              out: Path = typer.Option(Path("tracking"), "--out", help="Folder for the report."),
              as_json: bool = _JSON) -> None:
    """The planar track a `vfx place` job would compute: tracking.json, corner paths and contact sheet."""
    from soundstage.services.vfx_service import track_plane

    with common.open_ws() as ws:
        report = track_plane(ws, plate, _json_value(corners, "corners"), out, region=region, smoothing=smoothing)
    summary = {"folder": str(report.folder), "frames": report.frames, "lost_frames": list(report.lost_frames),
               "mean_inliers": round(report.mean_inliers, 1),
               "max_reprojection_rms": round(report.max_reprojection_rms, 4),
               "corner_paths": str(report.paths_png), "contact_sheet": str(report.contact_sheet_png)}
    if as_json:
        common.emit_json(summary)
        return
    common.print_kv(summary)


@vfx.command("probe")
def probe_cmd(path: Path, as_json: bool = _JSON) -> None:
    """Frame count, exact fps, timecode, colour tags and audio streams of a media file."""
    from soundstage.services.vfx_service import probe_file

    info = probe_file(path)
    if as_json:
        common.emit_json(info)
        return
    for key in ("codec", "width", "height", "pix_fmt", "fps", "frame_count", "duration", "timecode", "colour",
                "audio", "truncated", "variable_frame_rate"):
        common.console.print(f"[bold]{key}:[/] {info[key]}")
