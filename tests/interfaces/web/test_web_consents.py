"""The consent portal's form: a refusal shows the form again as typed with the one-line error and
its hint; the API says the same (422); an incomplete consent is shown not yet valid."""

from __future__ import annotations

import html
import re

from api_helpers import auth
from web_helpers import HTML, login
from soundstage.services import consent_service

DESCRIPTION = "De-ageing of Noah Fenn by 20 years in the 1994 flashback, scene 5 only, for the final cut"


def _form(production, csrf: str, **over) -> dict:
    data = {"csrf_token": csrf, "performer": production["noah"]["id"], "kind": "digital_alteration",
            "operations": "likeness_cosmetic, deage", "description": DESCRIPTION, "scenes": "5, 7",
            "max_alteration": "0.4", "valid_days": "90", "signed_separately": "on", "representation": "counsel"}
    data.update(over)
    return data


def _field(page: str, name: str) -> str:
    match = re.search(rf'<input name="{name}" value="([^"]*)"', page)
    return html.unescape(match.group(1)) if match else ""


def _noah_consents(production) -> list:
    return [c for c in consent_service.list_consents(production["ws"]) if c["performer_id"] == production["noah"]["id"]]


def test_a_refused_grant_keeps_what_was_typed_and_says_why(client, production):
    csrf = login(client, production["tokens"]["rights_clearance"])
    response = client.post("/consents/grant", data=_form(production, csrf), headers=HTML)
    assert response.status_code == 422
    page = response.text
    error = html.unescape(re.search(r'id="grant-error"[^>]*>([^<]*)<', page).group(1))
    assert "unknown operation 'deage'" in error and "did you mean 'likeness_deage'?" in error
    assert "likeness_cosmetic" in error and "employment_based_replica" not in error
    assert "SpecError" not in page and "Refused (" not in page
    assert '<nav>' in page  # still the portal, with its navigation
    # what was typed is all there
    assert _field(page, "operations") == "likeness_cosmetic, deage"
    assert _field(page, "scenes") == "5, 7" and _field(page, "max_alteration") == "0.4"
    assert _field(page, "valid_days") == "90"
    assert html.unescape(re.search(r'<textarea name="description"[^>]*>([^<]*)<', page).group(1)) == DESCRIPTION
    assert re.search(rf'<option value="{production["noah"]["id"]}" selected>', page)
    assert '<input type="checkbox" name="signed_separately" checked>' in page
    assert "<option selected>counsel</option>" in page
    assert _noah_consents(production) == []  # nothing written


def test_typed_text_is_escaped_when_shown_again(client, production):
    csrf = login(client, production["tokens"]["rights_clearance"])
    hostile = '"><script>alert(1)</script>'
    response = client.post("/consents/grant", data=_form(production, csrf, operations=hostile, scenes=hostile),
                           headers=HTML)
    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in response.text
    assert _field(response.text, "scenes") == hostile


def test_bad_numbers_are_refused_with_the_field_named(client, production):
    csrf = login(client, production["tokens"]["rights_clearance"])
    for field, value, words in (("valid_days", "ten", "field 'valid_days'"),
                                ("valid_days", "999999999", "field 'valid_days'"),
                                ("max_alteration", "lots", "field 'max_alteration'")):
        response = client.post("/consents/grant", data=_form(production, csrf, operations="likeness_deage",
                                                             **{field: value}), headers=HTML)
        assert response.status_code == 422 and words in html.unescape(response.text), (field, value)
        assert _field(response.text, field) == value
    assert _noah_consents(production) == []


def test_the_form_still_needs_the_csrf_token(client, production):
    login(client, production["tokens"]["rights_clearance"])
    response = client.post("/consents/grant", data=_form(production, "0" * 64, operations="likeness_deage"),
                           headers=HTML)
    assert response.status_code == 403 and _noah_consents(production) == []


def test_the_api_answers_a_misspelled_operation_with_422_and_the_operations(client, production):
    response = client.post("/api/consents", headers=auth(production, "rights_clearance"),
                           data={"performer": production["noah"]["id"], "kind": "digital_alteration",
                                 "operations": "deage", "description": DESCRIPTION})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "SpecError" and "did you mean 'likeness_deage'?" in error["message"]
    assert "employment_based_replica" not in error["message"]


def test_an_incomplete_consent_is_shown_not_yet_valid_with_what_is_missing(client, production):
    csrf = login(client, production["tokens"]["rights_clearance"])
    response = client.post("/consents/grant", data=_form(production, csrf, operations="likeness_deage",
                                                         signed_separately=""), headers=HTML,
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/consents#consent-c-")
    (consent,) = _noah_consents(production)
    page = client.get("/consents", headers=HTML).text
    row = re.search(rf'<tr id="consent-{consent["id"]}">(.*?)</tr>', page, re.S).group(1)
    assert "not yet valid" in row and "status-incomplete" in row
    assert "missing a separate signature" in row and "missing the signed consent document" in row
    assert "SAG-CONSENT-SEPARATE" in row and "SAG-CONSENT-DOCUMENT" in row
    # Maya's consent (signed separately, documented) is active, nothing missing
    maya = re.search(rf'<tr id="consent-{production["consent"]["id"]}">(.*?)</tr>', page, re.S).group(1)
    assert "status-active" in maya and "missing" not in maya
    # the API carries the same
    shown = client.get(f"/api/consents/{consent['id']}", headers=auth(production, "rights_clearance")).json()
    assert shown["valid"] is False and [m["rule_id"] for m in shown["missing"]] == ["SAG-CONSENT-SEPARATE",
                                                                                   "SAG-CONSENT-DOCUMENT"]


def test_the_kind_menu_offers_only_real_kinds(client, production):
    login(client, production["tokens"]["rights_clearance"])
    page = client.get("/consents", headers=HTML).text
    form = page[page.index('id="grant-form"'):]
    kinds = re.findall(r"<option(?: selected)?>([a-z_]+)</option>", form[:form.index("</select>", form.index(
        'name="kind"'))])
    assert kinds == ["employment_based_replica", "independently_created_replica", "background_actor_replica",
                     "digital_alteration"]
