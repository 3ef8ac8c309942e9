"""The web voice page: the list, and the form that submits through the same service as the API."""

from __future__ import annotations

import html
import re

from web_helpers import HTML, a_waiting_voice_line, login


def test_voice_page_lists_and_a_refused_form_keeps_what_was_typed(client, production):
    csrf = login(client, production["tokens"]["vfx_supervisor"])
    page = client.get("/voice", headers=HTML)
    assert page.status_code == 200 and "No voice jobs yet." in page.text and 'action="/voice"' in page.text
    form = {"csrf_token": csrf, "operation": "adr", "performer": production["maya"]["id"],
            "line": "Where were you on the night of the fourth", "model": "studio.tts", "plate": "",
            "start": "", "end": "", "language": "", "scene": "5", "shot": ""}
    refused = client.post("/voice", data=form, headers=HTML)  # no such model registered: refused, said why
    error = html.unescape(re.search(r'<p class="error" role="alert">([^<]*)<', refused.text).group(1))
    assert refused.status_code == 403 and "model 'studio.tts' is not in the model registry" in error
    assert ">Where were you on the night of the fourth</textarea>" in refused.text  # kept as typed
    # submitted without a voice consent: recorded as denied, and the browser lands on the job's page
    form.update(model="soundstage.procedural-card", operation="line")
    sent = client.post("/voice", data=form, headers=HTML, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/jobs/j-")
    job = client.get(sent.headers["location"], headers=HTML)
    assert job.status_code == 200 and "SAG-CONSENT-REQUIRED" in job.text
    assert "voice.synthetic_line" in client.get("/voice", headers=HTML).text
    forged = client.post("/voice", data={**form, "csrf_token": "nope"}, headers=HTML)
    assert forged.status_code == 403


def test_the_rights_clearance_role_sees_the_list_but_no_form(client, production):
    login(client, production["tokens"]["rights_clearance"])
    page = client.get("/voice", headers=HTML)
    assert page.status_code == 200 and 'action="/voice"' not in page.text


def _a_done_voice_line(production, tmp_path, monkeypatch, server):
    """A synthetic line in Maya's voice, consented, enrolled, previewed, approved and run (services, as a worker)."""
    from soundstage.testing.approvals import approve
    from soundstage.testing.identity import signer_for

    ws = production["ws"]
    result = a_waiting_voice_line(production, tmp_path, server)
    holders = {"producer": "Priya Shah", "rights_clearance": "Rita Moss", "legal": "Leo Hart",
               "performer_rep": "Lena Ortiz"}
    for role in result["decision"]["approver_roles"]:
        result = approve(ws, result["job"], signer=signer_for(ws, holders[role.split(":")[0]]),
                         role=role.split(":")[0], note="ok", actor=holders[role.split(":")[0]])
    assert result["status"] == "done", result
    return result


def test_the_voice_page_plays_outputs_and_a_rep_sees_only_their_performers(client, production, tmp_path,
                                                                           monkeypatch):
    from api_helpers import auth

    from soundstage.testing.fake_voice_server import FakeOpenAISpeech

    monkeypatch.setenv("STUDIO_TTS_KEY", "sk-test")
    with FakeOpenAISpeech(api_key="sk-test") as server:
        done = _a_done_voice_line(production, tmp_path, monkeypatch, server)
    [output] = done["assets"]
    login(client, production["tokens"]["performer_rep"])  # Maya's representative
    page = client.get("/voice", headers=HTML)
    assert page.status_code == 200 and '<a href="/voice">Voices</a>' in page.text
    assert "<td>Maya Castell</td>" in page.text  # the performer by name, not by id
    player = re.search(r'<audio class="voice-player" src="([^"]+)" controls', page.text)
    assert player and player.group(1) == f"/api/jobs/{done['job']}/media/{output['id']}"
    media = client.get(player.group(1), headers={**auth(production, "performer_rep"), "Range": "bytes=0-11"})
    assert media.status_code == 206 and media.headers["content-type"] == "audio/wav"
    assert media.content[:4] == b"RIFF" and media.content[8:12] == b"WAVE"
    assert "sha256" not in page.text and str(production["ws"].settings.root) not in page.text  # no server path
    # Noah's representative: the nav link, but not Maya's voice job nor its player
    client.post("/logout", data={"csrf_token": re.search(r'name="csrf_token" value="([0-9a-f]+)"',
                                                         page.text).group(1)})
    login(client, production["tokens"]["other_rep"])
    other = client.get("/voice", headers=HTML)
    assert other.status_code == 200 and '<a href="/voice">Voices</a>' in other.text
    assert done["job"] not in other.text and "<audio" not in other.text and "No voice jobs yet." in other.text
    assert client.get(player.group(1), headers=auth(production, "other_rep")).status_code in (403, 404)


def test_the_voices_link_follows_the_permission_to_read_jobs(client):
    """The nav is drawn from the same matrix as the page's own check (jobs.read): a person without
    it gets no link; nobody logged in gets no nav at all."""
    from pathlib import Path
    from types import SimpleNamespace

    from jinja2 import Environment, FileSystemLoader

    from soundstage.interfaces.web import views

    env = Environment(loader=FileSystemLoader(Path(views.__file__).parent / "templates"), autoescape=True)
    me = SimpleNamespace(name="Ann Example", roles={"legal"})
    link = '<a href="/voice">Voices</a>'
    assert link in env.get_template("base.html").render(me=me, allowed={"jobs.read"}, csrf="x", title="t")
    assert link not in env.get_template("base.html").render(me=me, allowed={"audit.read"}, csrf="x", title="t")
    assert link not in client.get("/login", headers=HTML).text
