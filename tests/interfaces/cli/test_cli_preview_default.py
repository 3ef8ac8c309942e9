"""`soundstage job approve` of a de-age under the DEFAULT pack alone: without --preview it exits 1
with one line naming `soundstage job preview`; naming another job's preview exits 1 and records
nothing; naming its own current preview is recorded (issue 15)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from api_helpers import CREW, build_production, deage_spec  # noqa: E402

from soundstage.domain.safeguards import JobSpec  # noqa: E402
from soundstage.services import jobs_service  # noqa: E402


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def test_approve_without_or_with_another_jobs_preview_is_refused(sqlite_workspace, tmp_path, cli_as):
    ws = sqlite_workspace
    prod = build_production(ws, tmp_path)
    assert "packs = []" in (Path(ws.settings.root) / "soundstage.toml").read_text()  # the default pack only
    cli = cli_as(ws, prod["tokens"])
    spec = JobSpec.from_dict({**deage_spec(prod), "id": "x", "production_id": ws.production_id,
                              "requested_by": CREW["vfx_supervisor"][0]})
    job, other = (jobs_service.submit_job(ws, spec, actor="Ken Ito", wait=False)["job"] for _ in range(2))

    code, out, err = cli("job", "approve", job, "--role", "legal", who="legal")
    assert code == 1 and out == ""
    (line,) = _error_lines(err)
    assert line.startswith("error:") and f"look at the preview first: soundstage job preview {job}" in line

    code, out, err = cli("job", "preview", other, "--out", str(tmp_path / "theirs"), who="legal")
    assert code == 0, err
    theirs = re.search(r"preview digest ([0-9a-f]{64})", out).group(1)
    code, _, err = cli("job", "approve", job, "--role", "legal", "--preview", theirs, who="legal")
    assert code == 1 and len(_error_lines(err)) == 1 and "not its current preview" in err
    assert jobs_service.show_job(ws, job)["approvals"] == []  # nothing recorded

    code, out, err = cli("job", "preview", job, "--out", str(tmp_path / "mine"), "--json", who="legal")
    assert code == 0, err
    mine = json.loads(out)["preview_digest"]
    code, _, err = cli("job", "approve", job, "--role", "legal", "--preview", mine, who="legal")
    assert code == 0, err
    assert [a["preview_digest"] for a in jobs_service.show_job(ws, job)["approvals"]] == [mine]
