"""`soundstage consent grant` through the real entry point: a misspelled operation is answered with
the operations and a guess; an incomplete consent is printed NOT YET VALID with what is missing."""

from __future__ import annotations

import json

import pytest

from soundstage.interfaces.cli.app import main
from soundstage.services import consent_service, people_service, talent_service
from soundstage.testing.identity import token_for

DESCRIPTION = "De-ageing of Maya Castell by about 30 years in the 1994 flashback, scene 5 only, final cut"


@pytest.fixture
def cli(sqlite_workspace, monkeypatch, capsys):
    ws = sqlite_workspace
    people_service.add_crew(ws, "Lena Ortiz", ["performer_rep"], actor="setup")
    talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"], actor="setup")
    for name in ("SOUNDSTAGE_TOKEN_FILE", "SOUNDSTAGE_SINGLE_USER", "SOUNDSTAGE_USER", "SOUNDSTAGE_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SOUNDSTAGE_TOKEN", token_for(ws, "Lena Ortiz"))

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["-w", str(ws.settings.root), *args])
        out, err = capsys.readouterr()
        return code, out, err

    run.ws = ws
    return run


GRANT = ("consent", "grant", "Maya Castell", "--kind", "digital_alteration", "--description", DESCRIPTION)


def test_a_misspelled_operation_names_the_operations(cli):
    code, out, err = cli(*GRANT, "-o", "deage")
    assert code != 0 and out == ""
    assert "unknown operation 'deage'" in err and "did you mean 'likeness_deage'?" in err
    assert "likeness_cosmetic" in err and "performance_alteration" in err
    assert "employment_based_replica" not in err  # the kinds are not the answer
    assert consent_service.list_consents(cli.ws) == []


def test_an_incomplete_consent_is_printed_not_yet_valid(cli, tmp_path):
    code, out, err = cli(*GRANT, "-o", "likeness_deage")
    assert code == 0, err
    assert "NOT YET VALID" in out and "a separate signature" in out and "the signed consent document" in out
    assert "SAG-CONSENT-SEPARATE" in out and "(active)" not in out
    code, out, _ = cli("consent", "list")
    assert code == 0 and "NOT YET" in out and "VALID" in out and "active" not in out
    document = tmp_path / "signed.pdf"
    document.write_bytes(b"%PDF-1.4 signed consent")
    code, out, err = cli(*GRANT, "-o", "likeness_deage", "--signed-separately", "--document", str(document),
                         "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["valid"] is True and data["missing"] == [] and data["status"] == "active"
