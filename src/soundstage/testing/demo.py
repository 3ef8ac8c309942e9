"""`make demo`: run the whole pipeline that exists so far on the bundled sample production.

Each step is a real ``soundstage`` command, printed before it runs, so the demo doubles as a
tour of the CLI. Output goes to one directory (default ``demo-output``), replaced on each run.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
import time
from importlib import resources
from pathlib import Path

from rich.console import Console

from soundstage.interfaces.cli.app import main as cli
from soundstage.testing import sample_media
from soundstage.testing.fake_chat_server import FakeOpenAIChat, numbered_lines
from soundstage.testing.fake_voice_server import FakeOpenAISpeech, speak
from soundstage.testing.tsa import TimeStampAuthority, TsaServer
from soundstage.voice.pcm import write_wav16

console = Console(highlight=False)
MARKER = ".soundstage-demo"


def sample_script_path() -> Path:
    return Path(str(resources.files("soundstage").joinpath("samples", "the_last_take.fountain")))


def revised_draft(text: str) -> str:
    """A second draft the way writers make them: a scene inserted, one cut, one rewritten."""
    from soundstage.script.fountain import parse_fountain

    sp = parse_fountain(text)
    headings = [el for el in sp.elements if el.kind.value == "scene_heading"]
    lines = text.splitlines()
    # cut the second-to-last scene: from its heading to the next heading
    cut_start = headings[-2].line - 1
    cut_end = headings[-1].line - 1
    # insert a new scene before the third scene
    insert_at = headings[2].line - 1
    new_scene = ["EXT. STUDIO BACKLOT - NIGHT", "",
                 "Rain machines hiss. A GRIP hauls cable past a parked golf cart.", ""]
    out = lines[:insert_at] + new_scene + lines[insert_at:cut_start] + lines[cut_end:]
    rewritten = "\n".join(out)
    # rewrite a line of action in the first scene so it counts as changed
    first = headings[0].line
    body = rewritten.splitlines()
    for i in range(first, min(first + 12, len(body))):
        if body[i].strip() and not body[i].isupper():
            body[i] = body[i] + " Somewhere, a phone rings and nobody answers it."
            break
    return "\n".join(body) + "\n"


#: person -> their credential file (made by init / token create / token rotate in the demo)
TOKENS: dict[str, Path] = {}


def token_file(out: Path, person: str, suffix: str = "") -> Path:
    folder = out / "credentials"
    folder.mkdir(exist_ok=True, mode=0o700)
    return folder / (person.lower().replace(" ", "_") + suffix + ".token")


def run(argv: list[str], expect: int = 0, user: str | None = None) -> None:
    """Run one CLI command as a person would, with that person's credential (``--token-file``);
    ``expect`` is the exit code the step should give."""
    who = ["--token-file", str(TOKENS[user])] if user else []
    shown = ["--token-file", TOKENS[user].name] if user else []
    console.print(f"\n[bold cyan]$ soundstage {' '.join(shlex.quote(a) for a in shown + argv)}[/]")
    code = cli(who + argv)
    if code != expect:
        console.print(f"[bold red]demo step gave exit code {code}, expected {expect}[/]")
        sys.exit(1)
    if expect:
        console.print(f"[dim](exit {code}, as expected: the safeguard said no)[/]")


def write_consent_document(path: Path) -> Path:
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=letter, invariant=1)
    c.setFont("Helvetica-Bold", 14)
    c.drawString(72, 720, "Consent to digital alteration - The Last Take")
    c.setFont("Helvetica", 11)
    lines = ["Performer: Maya Castell (SAG-AFTRA), represented by Lena Ortiz.",
             "Use: de-ageing by about thirty years in the 1994 flashback (scene 5) for the final cut",
             "of The Last Take only. Maximum alteration 0.5. Signed as a separate writing.",
             "Signed: Maya Castell                 Witness: Lena Ortiz"]
    for i, line in enumerate(lines):
        c.drawString(72, 690 - 18 * i, line)
    c.save()
    return path


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def main(out_dir: str = "demo-output") -> int:
    for name in ("SOUNDSTAGE_TOKEN", "SOUNDSTAGE_TOKEN_FILE", "SOUNDSTAGE_SINGLE_USER"):
        os.environ.pop(name, None)  # every step below names whose credential it runs with
    TOKENS.clear()
    out = Path(out_dir).resolve()
    if out.exists():
        if not (out / MARKER).exists():
            console.print(f"[red]{out} exists and was not made by the demo; refusing to replace it[/]")
            return 2
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("made by make demo; safe to delete\n")
    ws = out / "production"
    script = sample_script_path()
    started = time.perf_counter()

    console.rule("[bold]soundstage demo: The Last Take")
    TOKENS["Priya Shah"] = token_file(out, "Priya Shah")
    run(["init", str(ws), "--title", "The Last Take", "--owner", "Priya Shah", "--token-out",
         str(TOKENS["Priya Shah"])])  # the producer: first person, first credential, identity root
    # a real RFC 3161 time-stamp authority on loopback, as a studio's own TSA would be (DR007): every
    # signature carries a trusted time, so the credentials outlive the signing certificate
    tsa = TsaServer(TimeStampAuthority(out / "tsa")).start()
    try:
        tsa.authority.write_ca(ws / "keys" / "tsa-ca.pem")
        with open(ws / "soundstage.toml", "a", encoding="utf-8") as cfg:
            cfg.write(f'\n[provenance]\ntsa_url = "{tsa.url}"\ntsa_trust_anchor = "keys/tsa-ca.pem"\n')
        w = ["--workspace", str(ws)]
        P = "Priya Shah"
        run(w + ["info"], user=P)  # the time-stamp authority and when the signing certificate expires
        run(w + ["script", "import", str(script)], user=P)
        run(w + ["script", "breakdown"], user=P)
        run(w + ["script", "edit", "add", "--scene", "1", "--category", "props",
                 "--name", "clapperboard", "--note", "the 2nd AD wants it on the list"], user=P)
        run(w + ["script", "report", "--out", str(out / "reports")], user=P)
        run(w + ["script", "export", "--format", "fdx", "--out", str(out / "the_last_take.fdx")], user=P)

        draft2 = out / "the_last_take_draft2.fountain"
        draft2.write_text(revised_draft(script.read_text(encoding="utf-8")), encoding="utf-8")
        run(w + ["script", "import", str(draft2)], user=P)
        run(w + ["script", "drafts"], user=P)

        console.rule("[bold]people and their credentials: every approval and consent is signed")
        for name, roles in (("Ken Ito", ["vfx_supervisor"]), ("Ana Lima", ["vfx_supervisor"]),
                            ("Tom Reed", ["rights_clearance", "legal"]), ("Lena Ortiz", ["performer_rep"]),
                            ("Omar Reyes", ["producer"])):
            run(w + ["crew", "add", name] + [a for r in roles for a in ("--role", r)], user=P)
            issued = token_file(out, name, ".issued")
            run(w + ["token", "create", "--person", name, "--out", str(issued)], user=P)
            # the holder replaces the credential the producer saw: from now on only they hold their key
            TOKENS[name] = issued
            rotated = token_file(out, name)
            run(w + ["token", "rotate", "--out", str(rotated)], user=name)
            TOKENS[name] = rotated

        _breakdown_assist(w, ws, out)  # issue 15: the optional language-model assist, through the guard

        console.rule("[bold]safeguards: consent, policy, approvals")
        _studio_pack(ws)  # the studio's own policy pack, on top of the default
        run(w + ["talent", "add", "Maya Castell", "--union", "sag-aftra", "--rep", "Lena Ortiz"], user=P)
        moodboard = write_yaml(out / "job_moodboard.yaml", 'operation: ideation\nmodel_id: soundstage.procedural-card\n'
                               'scene: "3"\nprompt: "Mood board: rain-soaked main street at night, neon diner sign"\n')
        run(w + ["policy", "check", str(moodboard)], user=P)
        run(w + ["job", "submit", str(moodboard)], user="Ken Ito")
        moodboard_id = _last_asset_id(ws, "image")

        console.rule("[bold]VFX on footage: de-ageing under consent")
        plate = sample_media.write_plate(out / "A005_C003_plate.mp4", sample_media.astronaut_push_in())
        run(w + ["asset", "add", str(plate), "--kind", "plate", "--scene", "5", "--shot", "5A"], user=P)
        plate_id = _last_asset_id(ws, "plate")
        # for the final cut, as the consent says: a temporary job would be counted (and disclosed) as previz
        deage = w + ["vfx", "deage", plate_id, "--performer", "Maya Castell", "--amount", "0.4", "--scene", "5",
                     "--shot", "5A", "--final"]
        run(deage, expect=1, user="Ken Ito")  # no consent yet: denied, with the rule, before a frame is touched
        document = write_consent_document(out / "consent_maya_deage.pdf")
        grant = ["consent", "grant", "Maya Castell", "--kind", "digital_alteration", "--operation", "likeness_deage",
                 "--description", "De-ageing of Maya Castell by about thirty years in the 1994 flashback, scene 5, "
                 "for the final cut of The Last Take only", "--scene", "5", "--max-alteration", "0.5", "--media", "final",
                 "--signed-separately", "--representation", "union", "--document", str(document)]
        run(w + grant, expect=1, user="Ken Ito")  # the artist cannot grant a consent: the matrix says who may
        run(w + grant, user="Lena Ortiz")  # her representative can; the consent carries her signature
        reference = out / "maya_reference.png"
        from PIL import Image

        Image.fromarray(sample_media.reference_face()).save(reference)
        run(w + ["talent", "enroll", "Maya Castell", str(reference)], user="Lena Ortiz")
        run(deage, expect=1, user="Ken Ito")  # covered now, but talent likeness escalates for approval
        job_id = _last_job_id(ws)
        run(w + ["job", "show", job_id], user=P)
        # issue 15: the default pack asks approvers of a de-age to look at a guarded preview first; an
        # approval without one is refused, and each approval is signed with the preview's digest
        bound = _preview_digest(ws, job_id, out, user=P)
        if bound:
            run(w + ["job", "approve", job_id, "--role", "producer", "--note", "looks right"], expect=1, user=P)
        for person, role in (("Priya Shah", "producer"), ("Tom Reed", "rights_clearance"), ("Tom Reed", "legal"),
                             ("Lena Ortiz", "performer_rep"), ("Ken Ito", "vfx_supervisor"), ("Ana Lima", "vfx_supervisor")):
            if role in _required_roles(ws, job_id) and not _approved(ws, job_id, role):
                expect = 1 if person == "Ken Ito" else 0  # Ken asked for the job: nobody approves their own request
                shown = ["--preview", _preview_digest(ws, job_id, out, user=person)] if bound and not expect else []
                run(w + ["job", "approve", job_id, "--role", role, "--note", "reviewed the before/after"] + shown,
                    expect=expect, user=person)
        run(w + ["job", "show", job_id], user=P)
        delivered = out / "shot_5A_deaged.mp4"
        shutil.copy(_job_asset_path(ws, job_id), delivered)
        _before_after(plate, delivered, out / "shot_5A_before_after.png")

        deage_consent = _consent_id(ws)  # revoked at the end: the de-aged shot is quarantined with it
        _voice_adr(w, ws, out, plate_id)  # issue 17: an ADR line in Maya's voice, under her voice consent

        console.rule("[bold]VFX: background replacement with the approved mood board")
        run(w + ["vfx", "background", plate_id, "--background", moodboard_id, "--scene", "5", "--shot", "5A"],
            user="Ken Ito")

        _place_element(w, ws, out, plate, plate_id)  # issue 16: vfx place (see the function)

        console.rule("[bold]VFX: a 10-bit DPX scan as a plate, boom mic painted out")
        scan_frames, boom_matte = sample_media.with_boom_mic(sample_media.astronaut_push_in(24, 960, 540))
        scan = sample_media.write_dpx_scan(out / "scan", "A005_C004", scan_frames)
        run(w + ["asset", "add", str(scan), "--kind", "plate", "--scene", "5", "--shot", "5B"], user=P)
        scan_id = _last_asset_id(ws, "plate")
        matte = out / "A005_C004_boom_matte.png"
        Image.fromarray(boom_matte).save(matte)
        run(w + ["asset", "add", str(matte), "--kind", "element", "--scene", "5", "--shot", "5B"], user=P)
        matte_id = _last_asset_id(ws, "element")
        # no performer's likeness is touched and the guard checks the matte covers no face: it proceeds
        run(w + ["vfx", "cleanup", scan_id, "--mask", matte_id, "--scene", "5", "--shot", "5B"], user="Ken Ito")
        cleanup_job = _last_job_id(ws)
        cleaned = out / "shot_5B_boom_removed.mp4"
        shutil.copy(_job_asset_path(ws, cleanup_job), cleaned)
        _side_by_side(scan_frames[-1], cleaned, out / "shot_5B_before_after.png", rows=(0, 0.45), cols=(0, 0.45),
                      labels=("DPX scan", "boom mic removed"))
        run(w + ["vfx", "probe", str(cleaned)])  # 24 fps and the scan's timecode, from the DPX headers

        console.rule("[bold]provenance: verify, strip, recover")
        run(w + ["verify", str(delivered)], user=P)
        stripped = out / "shot_5A_reposted.mp4"
        _strip_video(delivered, stripped)
        run(w + ["verify", str(stripped)], user=P)

        console.rule("[bold]previz: shot list, Blender blocking, boards, animatic, OTIO")
        run(w + ["previz", "shots", "build"], user=P)
        run(w + ["previz", "shots"], user=P)
        run(w + ["previz", "board"], user="Priya Shah")

        console.rule("[bold]revocation and disclosure")
        # at picture lock: legal's report, signed off by legal, with the de-aged shot in the credits notice
        run(w + ["disclosure", "report", "--out", str(out / "disclosure_picture_lock"), "--sign-off", "legal"],
            user="Tom Reed")
        run(w + ["consent", "revoke", deage_consent, "--reason", "performer withdrew consent for the flashback"],
            user="Lena Ortiz")
        run(w + ["verify", str(delivered)], expect=1, user=P)  # quarantined now
        run(w + ["disclosure", "report", "--out", str(out / "disclosure"), "--sign-off", "legal"], user=P)
        run(w + ["audit", "log", "--limit", "15"], user=P)
        run(w + ["audit", "verify"], user=P)

        console.rule("[bold]outputs")
        console.print(f"workspace (config, ledger, content-addressed assets): {ws}")
        console.print(f"credentials (owner-only; each person's signing key derives from theirs): {out / 'credentials'}")
        console.print(f"breakdown sheets PDF:   {out / 'reports' / 'breakdown_sheets.pdf'}")
        console.print(f"cast/location/scene lists (CSV, JSON): {out / 'reports'}")
        console.print(f"Final Draft export:     {out / 'the_last_take.fdx'}")
        console.print(f"second draft (numbers locked, changes listed above): {draft2}")
        console.print(f"de-aged shot 5A (every frame watermarked, C2PA-signed): {delivered}")
        console.print(f"before/after frame: {out / 'shot_5A_before_after.png'}")
        console.print(f"shot 5A with one line replaced in Maya's voice (audio mark in the line, C2PA): "
                      f"{out / 'shot_5A_adr.mov'}")
        console.print(f"DPX scan with the boom mic painted out, and its before/after: {cleaned}, "
                      f"{out / 'shot_5B_before_after.png'}")
        console.print(f"the same shot re-encoded without credentials, recovered by its watermark: {stripped}")
        console.print(f"storyboards, animatic, OTIO/EDL: {ws / 'exports' / 'previz'}")
        console.print("Blender scenes (.blend) and depth passes: assets in the ledger (soundstage asset list)")
        console.print(f"disclosure report at picture lock (HTML, PDF, JSON, credits notice): "
                      f"{out / 'disclosure_picture_lock'}")
        console.print(f"disclosure report after the revocation: {out / 'disclosure'}")
        console.print(f"done in {time.perf_counter() - started:.1f} s")
        return 0
    finally:
        tsa.stop()


def _ledger(ws: Path):
    from soundstage.services.workspace import open_workspace

    return open_workspace(ws)


def _last_asset_id(ws: Path, kind: str) -> str:
    from soundstage.services.ledger import list_assets

    w = _ledger(ws)
    try:
        return [a for a in list_assets(w, kind)][-1]["id"]
    finally:
        w.close()


def _performer_id(ws: Path, name: str) -> str:
    from soundstage.services.talent_service import show_performer

    w = _ledger(ws)
    try:
        return show_performer(w, name)["id"]
    finally:
        w.close()


def _last_job_id(ws: Path) -> str:
    from soundstage.services.jobs_service import list_jobs

    w = _ledger(ws)
    try:
        return list_jobs(w)[-1]["id"]
    finally:
        w.close()


STUDIO_PACK = """pack: the-last-take
version: 1
description: The Last Take's own rules, on top of the default pack.
# (an approval of a de-age names the guarded preview its approver looked at: the default pack asks
# that of every job that alters a performer's likeness on screen, issue 15; a pack cannot take it away)
rules:
  - id: TLT-1
    text: Training a model on footage of this production is reviewed by legal.
    when: {field: operation, eq: training}
    then: {outcome: escalate, approvers: [legal]}
"""


def _studio_pack(ws: Path) -> None:
    """The production's own policy pack, listed in soundstage.toml beside the default."""
    write_yaml(ws / "studio_policy.yaml", STUDIO_PACK)
    config = ws / "soundstage.toml"
    text = config.read_text(encoding="utf-8")
    if "packs = []" not in text:
        raise SystemExit("demo: soundstage.toml lists policy packs already; not adding the studio's")
    config.write_text(text.replace("packs = []", 'packs = ["studio_policy.yaml"]', 1), encoding="utf-8")


def _preview_digest(ws: Path, job_id: str, out: Path, *, user: str) -> str | None:
    """When the pack asks for a preview of this job before approval: ``user`` runs `soundstage job
    preview` (made once, then the newest is reused) and approves with the digest it printed; None
    when the pack asks for none."""
    from soundstage.safeguards.preview_rules import preview_required
    from soundstage.services.jobs_service import show_job
    from soundstage.services.preview_service import current_preview

    w = _ledger(ws)
    try:
        if not preview_required(w, show_job(w, job_id)["spec"]["operation"]):
            return None
    finally:
        w.close()
    run(["--workspace", str(ws), "job", "preview", job_id, "--out", str(out / "review")], user=user)
    w = _ledger(ws)
    try:
        return current_preview(w, job_id).sha256
    finally:
        w.close()


def _required_roles(ws: Path, job_id: str) -> list[str]:
    from soundstage.services.jobs_service import show_job

    w = _ledger(ws)
    try:
        return list(show_job(w, job_id)["decision"].get("approver_roles", []))
    finally:
        w.close()


def _job_asset_path(ws: Path, job_id: str) -> Path:
    from soundstage.services.jobs_service import run_job

    w = _ledger(ws)
    try:
        asset = run_job(w, job_id, actor="demo")["assets"][0]  # a done job returns its assets again
        return w.store.path_for(asset["sha256"])
    finally:
        w.close()


def _consent_id(ws: Path) -> str:
    from soundstage.services.consent_service import list_consents

    w = _ledger(ws)
    try:
        return list_consents(w)[-1]["id"]
    finally:
        w.close()


def _approved(ws: Path, job_id: str, role: str) -> bool:
    from soundstage.services.jobs_service import show_job

    w = _ledger(ws)
    try:
        job = show_job(w, job_id)
        return job["status"] != "escalated" or not any(m.split(":")[0] == role for m in job.get("missing_roles", []))
    finally:
        w.close()


def _strip_video(src: Path, dst: Path) -> None:
    """What a platform does to an upload: decode, re-encode smaller, drop the C2PA boxes and metadata."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream("libx264", rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
        vout.options = {"preset": "veryfast", "crf": "23"}  # ~400 kbit/s at 360p; the mark is rated to CRF 28 at 1080p
        for frame in inp.decode(vin):
            new = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            new.pts = frame.pts
            new.time_base = frame.time_base
            for packet in vout.encode(new):
                out.mux(packet)
        for packet in vout.encode():
            out.mux(packet)


# --------------------------------------------------------------------------- vfx place (issue 16)

#: the element's corners in frame 0 of the sample plate (a poster on the backdrop right of the face)
#: and the plane tracked (the whole photograph moves as one plane in the sample push-in)
PLACE_CORNERS = "0:400,40,465,43,463,130,398,127"
PLACE_REGION = "8,8,632,8,632,352,8,352"


def _place_element(w: list[str], ws: Path, out: Path, plate: Path, plate_id: str) -> None:
    """The *Eternaut* shot in miniature: a collapse element (falling masonry, a dust plume: an RGBA
    clip) generated through the guarded path and placed into the plate, tracked, graded, grain-matched."""
    from soundstage.services.models import list_models

    console.rule("[bold]VFX: a generated collapse element placed into the plate (vfx place)")
    workspace = _ledger(ws)
    try:
        video = [m["id"] for m in list_models(workspace)
                 if m.get("trained_model") and m.get("generative") and m.get("backend") == "diffusers-video"]
    finally:
        workspace.close()
    console.print("[bold]element generator:[/] " + (
        f"video weights are registered ({', '.join(video)}), but the demo keeps to the procedural generator"
        if video else "no video weights are registered in this production") +
        " - the collapse is a [bold]procedural element[/] (soundstage.procedural-card, element: collapse: seeded "
        "noise and falling polygons, no trained model; signed as algorithmicMedia, not as AI-generated)")
    collapse = write_yaml(out / "job_collapse.yaml", (
        'operation: set_extension\nmodel_id: soundstage.procedural-card\nscene: "5"\nshot: 5A\n'
        'prompt: "the water tower behind the set collapses into a cloud of dust"\n'
        "params: {element: collapse, width: 320, height: 400, frames: 72, fps: 24, seed: 7}\n"))
    run(w + ["job", "submit", str(collapse)], user="Ken Ito")
    element_id = _last_asset_id(ws, "element")
    # 72 frames for a 48-frame plate: the shot ends with the plume still rising (the rest is handles)
    console.print(f"element {element_id}: 72 RGBA frames, PNG in MOV; every frame's RGB carries its id, "
                  "its alpha is kept exactly")
    # a frame of it saved outside soundstage and added back is not a production's signed element:
    # refused before a frame is made
    import av
    from PIL import Image

    with av.open(str(_job_asset_path(ws, _last_job_id(ws)))) as clip:
        first = next(clip.decode(video=0)).to_ndarray(format="rgba")
    loose = out / "downloaded_collapse_frame.png"
    Image.fromarray(first).save(loose)
    run(w + ["asset", "add", str(loose), "--kind", "element", "--scene", "5", "--shot", "5A"], user="Priya Shah")
    loose_id = _last_asset_id(ws, "element")
    # what the tracker makes of the plate, before anyone submits: the person checks it, adjusts corners
    run(w + ["vfx", "track", plate_id, "--corners", COLLAPSE_CORNERS, "--region", PLACE_REGION, "--out",
             str(out / "shot_5A_tracking")], user="Ken Ito")
    place = ["vfx", "place", plate_id, "--corners", COLLAPSE_CORNERS, "--region", PLACE_REGION, "--defocus", "1.6",
             "--grade", "0.35", "--scene", "5", "--shot", "5A"]
    run(w + place + ["--element", loose_id], expect=1, user="Ken Ito")
    run(w + place + ["--element", element_id], user="Ken Ito")
    placed = out / "shot_5A_placed.mp4"
    shutil.copy(_job_asset_path(ws, _last_job_id(ws)), placed)
    run(w + ["verify", str(placed)], user="Ken Ito")  # c2pa.placed: the plate parentOf, the element componentOf
    from soundstage.media.video import iter_frames

    _side_by_side(list(iter_frames(plate))[-1], placed, out / "shot_5A_placed_before_after.png", rows=(0, 0.7),
                  cols=(0.45, 1.0), labels=("plate", "procedural collapse element placed, tracked, graded"))


#: the collapse element's corners at frame 0: on the backdrop between the face and the shuttle model
COLLAPSE_CORNERS = "0:362,2,494,2,494,167,362,167"


def _writers_capitals(body: dict) -> dict:
    """The demo's stand-in for a studio's chat model: it suggests, as props, the phrases of two or more
    words the writer put in capitals after an article or a possessive in an action line
    (screenwriters capitalise what production must provide: "a BOLEX FILM CAMERA"), each quoting its
    line, and reviews nothing. A real model reads the scene; this one only shows the path a
    suggestion takes (grounded in its line, checked, merged, a person's edits winning)."""
    elements = []
    for number, text in numbered_lines(body).items():
        for phrase in re.findall(r"(?:\b(?:[Aa]n?|[Tt]he|[Hh]is|[Hh]er|[Tt]heir|[Tt]wo)|'s) ((?:[A-Z][A-Z'-]+ )+[A-Z][A-Z'-]+)\b",
                                 text):
            elements.append({"category": "props", "name": phrase.lower(), "line": number, "quote": phrase})
    return {"elements": elements, "reviews": []}


def rewrite_one_scene(text: str) -> str:
    """A next draft that rewrites one scene: a sentence added to the second scene's first action line."""
    lines = text.splitlines()
    second = [i for i, line in enumerate(lines) if line.startswith(("INT.", "EXT.", "EST."))][1]
    for i in range(second + 1, len(lines)):
        if lines[i].strip() and not lines[i].isupper():
            lines[i] += " A STEADICAM rig waits by the door."
            break
    return "\n".join(lines) + "\n"


def _breakdown_assist(w: list[str], ws: Path, out: Path) -> None:
    """Issue 15 (DR022): the breakdown assist is a guarded job. Script pages go only to a model whose
    card says it keeps nothing: a cloud card that keeps inputs is denied before a byte is sent; the
    studio's own is escalated to a second producer, runs, and its checked suggestions are merged."""
    console.rule("[bold]breakdown assist: script pages only to a model that keeps nothing")
    console.print("[yellow]The chat model here is soundstage's local OpenAI-compatible test server with a "
                  "stand-in that suggests the phrases the writer capitalised (not a language model); a "
                  "studio points the model card at its own server.[/]")
    chat = FakeOpenAIChat(_writers_capitals, api_key="demo-llm-key").start()
    os.environ["STUDIO_LLM_KEY"] = "demo-llm-key"
    try:
        for model_id, keeps in (("cloud.llm", "true"), ("studio.llm", "false")):
            card = write_yaml(out / f"model_{model_id.replace('.', '_')}.yaml", (
                f"id: {model_id}\nname: {model_id} (local test server)\nlicence: contract (demo)\n"
                f"training_data: licensed\nevidence: demo stand-in\nstores_inputs: {keeps}\n"
                f"trains_on_inputs: false\nruns_in_production_env: true\nbackend: openai-chat\nconfig:\n"
                f"  model: studio-llm\n  base_url: {chat.url}/v1\n  api_key_env: STUDIO_LLM_KEY\n"))
            run(w + ["model", "add", str(card)], user="Tom Reed")
        run(w + ["script", "assist", "--model", "cloud.llm"], expect=1, user="Priya Shah")  # NFX-P2-SCRIPT
        console.print(f"requests that reached the chat server: {len(chat.seen)} (the denied card got none)")
        run(w + ["script", "assist", "--model", "studio.llm"], expect=1, user="Priya Shah")  # escalated
        job_id = _last_job_id(ws)
        run(w + ["job", "approve", job_id, "--role", "producer", "--note", "our own server"], user="Omar Reyes")
        run(w + ["script", "assist", "--job", job_id], user="Priya Shah")  # merged: + marks what it added
        # the writer's third draft rewrites one scene: the assist's work carries to every other scene, with
        # no new model job; the rewritten scene's suggestions are dropped (DR022, "New drafts")
        draft3 = out / "the_last_take_draft3.fountain"
        draft3.write_text(rewrite_one_scene((out / "the_last_take_draft2.fountain").read_text(encoding="utf-8")),
                          encoding="utf-8")
        run(w + ["script", "import", str(draft3)], user="Priya Shah")  # assist: N carried, M dropped
        console.print(f"requests that reached the chat server in all: {len(chat.seen)} (the third draft sent none)")
    finally:
        chat.stop()
        os.environ.pop("STUDIO_LLM_KEY", None)


def _voice_adr(w: list[str], ws: Path, out: Path, plate_id: str) -> None:
    """Issue 17: one line of the plate's audio replaced in Maya's voice. Her representative grants a
    voice consent and enrols her voice reference under it; the producer registers the studio's speech
    service; the ADR job escalates like a likeness, is approved, and its output carries the audio mark
    in the replaced range and Content Credentials, with the picture's packets untouched."""
    console.rule("[bold]voices: an ADR line in the performer's voice, under her voice consent")
    console.print("[yellow]The speech service here is soundstage's local OpenAI-compatible test server "
                  "(a deterministic synthetic voice, not a trained model and not Maya's real voice); a studio "
                  "points the model card at its own service.[/]")
    speech = FakeOpenAISpeech(api_key="demo-speech-key").start()
    os.environ["STUDIO_TTS_KEY"] = "demo-speech-key"
    try:
        document = write_consent_document(out / "consent_maya_voice.pdf")
        run(w + ["consent", "grant", "Maya Castell", "--kind", "digital_alteration", "--operation", "voice.adr",
                 "--description", "ADR of one line in Maya Castell's voice in scene 5, shot 5A, for the final mix "
                 "of The Last Take only", "--scene", "5", "--media", "final", "--signed-separately",
                 "--representation", "union", "--document", str(document)], user="Lena Ortiz")
        reference = write_wav16(out / "maya_voice_reference.wav", speak("this is my voice for the record", "maya"),
                                24000)
        run(w + ["voice", "enroll", "Maya Castell", str(reference)], user="Lena Ortiz")
        card = write_yaml(out / "model_studio_tts.yaml", (
            "id: studio.tts\nname: Studio TTS (local test server)\nlicence: studio contract (demo)\n"
            "training_data: licensed\nevidence: demo stand-in; no training data\nstores_inputs: false\n"
            "trains_on_inputs: false\nruns_in_production_env: true\nbackend: voice\nconfig:\n"
            "  engine: openai-speech\n  model: tts-studio\n"
            f"  base_url: {speech.url}/v1\n  api_key_env: STUDIO_TTS_KEY\n  response_format: wav\n"
            f"  voices:\n    {_performer_id(ws, 'Maya Castell')}: maya\n"))
        run(w + ["model", "add", str(card)], user="Tom Reed")  # rights clearance registers models
        adr = w + ["voice", "adr", "Maya Castell", plate_id, "--line", "You kept the ticket stub",
                   "--start", "0.2", "--end", "1.9", "--model", "studio.tts", "--scene", "5", "--shot", "5A", "--final"]
        run(adr, expect=1, user="Ken Ito")  # a voice is a likeness: it escalates for approval
        job_id = _last_job_id(ws)
        for person, role in (("Priya Shah", "producer"), ("Tom Reed", "rights_clearance"),
                             ("Tom Reed", "legal"), ("Lena Ortiz", "performer_rep"), ("Ana Lima", "vfx_supervisor")):
            if role in _required_roles(ws, job_id) and not _approved(ws, job_id, role):
                # the default pack requires a voice to be previewed by ear: the approver listens first
                digest = _preview_digest(ws, job_id, out, user=person)
                run(w + ["job", "approve", job_id, "--role", role, "--note", "listened to the line"]
                    + (["--preview", digest] if digest else []), user=person)
        line_clip = out / "shot_5A_adr.mov"
        shutil.copy(_job_asset_path(ws, job_id), line_clip)
        run(w + ["verify", str(line_clip)], user="Priya Shah")
    finally:
        speech.stop()
        os.environ.pop("STUDIO_TTS_KEY", None)


def _before_after(plate: Path, result: Path, target: Path) -> None:
    """The last frame of the plate beside the same frame after de-ageing (people would rather look)."""
    from soundstage.media.video import iter_frames

    _side_by_side(list(iter_frames(plate))[-1], result, target, rows=(0, 2 / 3), cols=(0.25, 0.75),
                  labels=("plate", "de-aged 0.4 (consented, approved)"))


def _side_by_side(before, result: Path, target: Path, *, rows: tuple[float, float], cols: tuple[float, float],
                  labels: tuple[str, str]) -> None:
    """A region of a source frame beside the same region of the result's last frame."""
    import numpy as np
    from PIL import Image, ImageDraw

    from soundstage.media.video import iter_frames

    after = list(iter_frames(result))[-1]
    h, w = before.shape[:2]
    region = (slice(int(h * rows[0]), int(h * rows[1])), slice(int(w * cols[0]), int(w * cols[1])))
    pair = np.concatenate([before[region], after[region]], axis=1)
    img = Image.fromarray(pair)
    draw = ImageDraw.Draw(img)
    draw.text((10, 10), labels[0], fill=(255, 255, 255))
    draw.text((pair.shape[1] // 2 + 10, 10), labels[1], fill=(255, 255, 255))
    img.save(target)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
