"""Times on the web pages read as people read them: to the minute, in UTC, never the ledger's microseconds."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from web_helpers import HTML, login

from soundstage.interfaces.web.views import when


def test_when_formats_a_stored_time_to_the_minute():
    assert when("2026-12-06T16:53:12.793999") == "2026-12-06 16:53 UTC"
    assert when(datetime(2026, 12, 6, 16, 53, 12, 793999, tzinfo=timezone.utc)) == "2026-12-06 16:53 UTC"
    assert when(None) == "" and when("") == ""


def test_pages_show_no_microseconds(client, production, tmp_path):
    from api_helpers import auth, submit_deage

    from soundstage.services import script_service

    script = tmp_path / "bakery.fountain"
    script.write_text("INT. BAKERY - DAWN\n\nFlour dusts the counter.\n")
    script_service.import_script(production["ws"], script, actor="setup")
    submit_deage(production)
    login(client, auth(production, "producer")["Authorization"].split()[1])
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    for path in ("/jobs", "/script"):
        page = client.get(path, headers=HTML)
        assert page.status_code == 200, (path, page.status_code)
        assert f"{today} " in page.text and " UTC" in page.text, path  # the job's and the draft's times are shown
        assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d{6}", page.text), path
