"""The audit log page: bounded pages (?before=seq), filters by action / actor / subject, subjects
linked to their pages."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

from web_helpers import HTML, login
from soundstage.interfaces.web.views import AUDIT_PAGE_SIZE, subject_link
from soundstage.services import people_service, talent_service
from soundstage.services.ledger import audit_log


def _seqs(page: str) -> list[int]:
    return [int(s) for s in re.findall(r'<tr data-seq="(\d+)">', page)]


def _href(page: str, element_id: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)" id="{element_id}"', page)
    return html.unescape(match.group(1)) if match else None


def test_pages_are_bounded_and_page_back_without_gaps_or_overlap(client, production):
    ws = production["ws"]
    for i in range(AUDIT_PAGE_SIZE + 20):
        talent_service.add_performer(ws, f"Extra {i:03d}", actor="Casting Desk")
    total = len(audit_log(ws))
    assert total > AUDIT_PAGE_SIZE + 20
    login(client, production["tokens"]["producer"])
    seen: list[int] = []
    url = "/audit"
    pages = 0
    while url:
        assert pages < 10, "paging does not move back"
        page = client.get(url, headers=HTML)
        assert page.status_code == 200
        seqs = _seqs(page.text)
        assert 0 < len(seqs) <= AUDIT_PAGE_SIZE and seqs == sorted(seqs, reverse=True)
        seen += seqs
        pages += 1
        url = _href(page.text, "audit-older")
        if pages > 1:
            assert _href(page.text, "audit-newest") == "/audit"
    assert seen == list(range(total, 0, -1)) and pages == -(-total // AUDIT_PAGE_SIZE)
    first = client.get("/audit", headers=HTML).text
    assert _seqs(first)[0] == total and _href(first, "audit-newest") is None


def test_filters_by_action_actor_and_subject_and_keep_them_when_paging(client, production):
    ws = production["ws"]
    for i in range(AUDIT_PAGE_SIZE + 5):
        talent_service.add_performer(ws, f"Extra {i:03d}", actor="Casting Desk")
    people_service.add_crew(ws, "Dee Grip", ["vfx_supervisor"], actor="Someone Else")
    login(client, production["tokens"]["producer"])
    by_actor = client.get("/audit", params={"actor": "Casting Desk"}, headers=HTML).text
    assert len(_seqs(by_actor)) == AUDIT_PAGE_SIZE
    rows = re.findall(r'<tr data-seq="\d+">(.*?)</tr>', by_actor, re.S)
    assert all(">Casting Desk</a>" in r for r in rows)
    older = _href(by_actor, "audit-older")
    assert older and "actor=Casting+Desk" in older and "before=" in older
    rest = client.get(older, headers=HTML).text
    assert len(_seqs(rest)) == 5 and _href(rest, "audit-older") is None

    granted = client.get("/audit", params={"action": "consent.*"}, headers=HTML).text
    assert [e["seq"] for e in audit_log(ws, action="consent.*")][::-1] == _seqs(granted)
    assert "consent.granted" in granted and "talent.added" not in granted

    consent_id = production["consent"]["id"]
    one = client.get("/audit", params={"subject": consent_id}, headers=HTML).text
    assert _seqs(one) == [e["seq"] for e in audit_log(ws) if e["subject"] == consent_id][::-1]
    assert f'value="{consent_id}"' in one  # the filter is shown as typed

    none = client.get("/audit", params={"actor": "Nobody At All"}, headers=HTML).text
    assert _seqs(none) == [] and "No events match" in none


def test_subjects_link_to_their_pages(client, production):
    login(client, production["tokens"]["producer"])
    page = client.get("/audit", headers=HTML).text
    consent_id, plate, maya = production["consent"]["id"], production["plate"]["id"], production["maya"]["id"]
    links = {unquote(h) for h in re.findall(r'<a href="([^"]+)" class="subject">', page)}
    assert f"/consents#consent-{consent_id}" in links and f"/assets/{plate}" in links
    assert f"/people#person-{maya}" in links
    assert subject_link("j-0123456789ab") == "/jobs/j-0123456789ab"
    assert subject_link("production CA") is None and subject_link("j-../../etc") is None
    # every linked page answers, and the person anchors exist
    people = client.get("/people", headers=HTML).text
    assert f'id="person-{maya}"' in people
    assert client.get(f"/assets/{plate}", headers=HTML).status_code == 200
    consents = client.get("/consents", headers=HTML).text
    assert f'id="consent-{consent_id}"' in consents


def test_a_bad_page_mark_is_a_clear_error_on_the_page(client, production):
    login(client, production["tokens"]["producer"])
    for bad in ("abc", "-3", "1e9"):
        response = client.get("/audit", params={"before": bad}, headers=HTML)
        assert response.status_code == 422 and "field &#39;before&#39;" in response.text and "<nav>" in response.text
    assert client.get("/audit", params={"action": "x" * 101}, headers=HTML).status_code == 422


def test_the_audit_page_still_needs_audit_read(client, production):
    login(client, production["tokens"]["vfx_supervisor"])
    assert client.get("/audit", params={"actor": "setup"}, headers=HTML).status_code == 403
