"""vfx deage | cosmetic | background | cleanup | probe - operations on plates, through the guard."""

from __future__ import annotations

from pathlib import Path

import typer

from soundstage.interfaces.cli import common
from soundstage.interfaces.cli.cmd_script import actor_name

vfx = typer.Typer(no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(vfx, name="vfx", help="VFX on plates: de-age, cosmetic, background, cleanup; probe media.")


def _run(operation: str, plate: str, *, performer: list[str], amount: float, scene: str | None, shot: str | None,
         extra: list[str], codec: str, cluster: str | None, as_json: bool, final: bool = False,
         model: str | None = None) -> None:
    from soundstage.services import jobs_service, vfx_service

    with common.open_ws() as ws:
        spec = vfx_service.build_vfx_job(ws, operation, plate, requested_by=actor_name(), performers=performer or [],
                                         amount=amount, scene=scene, shot=shot, extra_inputs=extra, codec=codec,
                                         cluster=cluster, deliverable="final" if final else "temporary",
                                         model_id=model or vfx_service.DEFAULT_VFX_MODEL,
                                         medium="final" if final else "previz")
        with common.progress() as bar:
            task = bar.add_task(f"vfx {operation}", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = vfx_service.submit_vfx_job(ws, spec, actor=actor_name(), progress=progress)
    if as_json:
        common.emit_json(result)
    jobs_service.raise_for_outcome(result)
    if not as_json:
        for asset in result["assets"]:
            common.console.print(f"[green]done[/] {result['job']}: asset {asset['id']} {asset['name']}")


_PERFORMER = typer.Option(None, "--performer", help="Performer (name or id) whose likeness is altered.")
_CODEC = typer.Option("h264", "--codec", help="h264 | h265 | prores")
_CLUSTER = typer.Option(None, "--cluster", help="Dask scheduler, tcp://host:port (default: local processes).")
_JSON = typer.Option(False, "--json")
_FINAL = typer.Option(False, "--final", help="For the final cut (default: temporary work); final use escalates.")
_MODEL = typer.Option(None, "--model", help="A registered model with backend 'vfx' (default: the built-in ops).")


@vfx.command("deage")
def deage(plate: str, performer: list[str] = _PERFORMER, amount: float = typer.Option(0.3, "--amount"),
          scene: str = typer.Option(None, "--scene"), shot: str = typer.Option(None, "--shot"),
          codec: str = _CODEC, cluster: str = _CLUSTER, as_json: bool = _JSON, final: bool = _FINAL,
          model: str = _MODEL) -> None:
    """De-age a performer on a plate by AMOUNT (0-1)."""
    _run("deage", plate, performer=performer, amount=amount, scene=scene, shot=shot, extra=[], codec=codec,
         cluster=cluster, as_json=as_json, final=final, model=model)


@vfx.command("cosmetic")
def cosmetic(plate: str, performer: list[str] = _PERFORMER, amount: float = typer.Option(0.3, "--amount"),
             scene: str = typer.Option(None, "--scene"), shot: str = typer.Option(None, "--shot"),
             codec: str = _CODEC, cluster: str = _CLUSTER, as_json: bool = _JSON, final: bool = _FINAL,
          model: str = _MODEL) -> None:
    """Cosmetic cleanup (blemishes, under-eye) of a performer on a plate."""
    _run("cosmetic", plate, performer=performer, amount=amount, scene=scene, shot=shot, extra=[], codec=codec,
         cluster=cluster, as_json=as_json, final=final, model=model)


@vfx.command("background")
def background(plate: str, background_asset: str = typer.Option(..., "--background", help="Background asset id."),
               scene: str = typer.Option(None, "--scene"), shot: str = typer.Option(None, "--shot"),
               codec: str = _CODEC, cluster: str = _CLUSTER, as_json: bool = _JSON, final: bool = _FINAL,
          model: str = _MODEL) -> None:
    """Replace the background of a plate with an image or plate asset."""
    _run("background", plate, performer=[], amount=0.0, scene=scene, shot=shot, extra=[background_asset],
         codec=codec, cluster=cluster, as_json=as_json, final=final, model=model)


@vfx.command("cleanup")
def cleanup(plate: str, mask: str = typer.Option(..., "--mask", help="Mask asset id (plate resolution)."),
            scene: str = typer.Option(None, "--scene"), shot: str = typer.Option(None, "--shot"),
            codec: str = _CODEC, cluster: str = _CLUSTER, as_json: bool = _JSON, final: bool = _FINAL,
          model: str = _MODEL) -> None:
    """Remove what the mask covers (inpainting)."""
    _run("cleanup", plate, performer=[], amount=0.0, scene=scene, shot=shot, extra=[mask], codec=codec,
         cluster=cluster, as_json=as_json, final=final, model=model)


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
