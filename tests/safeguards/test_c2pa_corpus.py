"""Files made by other tools (Photoshop, Firefly, c2patool, c2pa-rs) read the way the corpus says.

The corpus lives in the shared directory beside the repository (repo_root.parent / "shared");
its expected.json was recorded with c2pa-python 0.38.1, the version pinned here.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from soundstage.safeguards.provenance import CredentialState, read_credentials

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "c2pa"
EXPECTED_FILE = CORPUS / "expected.json"

pytestmark = pytest.mark.skipif(not EXPECTED_FILE.is_file(), reason=f"C2PA corpus not present at {CORPUS}")


def _expected() -> dict:
    return json.loads(EXPECTED_FILE.read_text()) if EXPECTED_FILE.is_file() else {}


EXPECTED = _expected()


@pytest.fixture(scope="module")
def test_anchor_file(tmp_path_factory) -> Path:
    """The c2pa-rs test CA certificates from trust/test_settings.toml, as a PEM trust list."""
    with open(CORPUS / "trust" / "test_settings.toml", "rb") as handle:
        anchors = tomllib.load(handle)["trust"]["trust_anchors"]
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", anchors, re.S)
    assert pems
    path = tmp_path_factory.mktemp("trust") / "c2pa-rs-test-anchors.pem"
    path.write_text("\n".join(pems) + "\n")
    return path


def test_corpus_is_complete():
    on_disk = {p.name for p in CORPUS.iterdir() if p.suffix in (".jpg", ".png", ".mp4")}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reading_matches_expected(name):
    expected = EXPECTED[name]
    reading = read_credentials(CORPUS / name)
    if expected["reader_error"]:
        assert reading.state is CredentialState.ABSENT
        assert reading.active_manifest is None and reading.status_codes == ()
        return
    assert reading.state == expected["validation_state"]
    assert list(reading.status_codes) == expected["validation_status_codes"]
    assert list(reading.failure_codes) == expected["active_manifest_failure_codes"]
    assert reading.active_manifest == expected["active_manifest_label"]
    assert reading.manifest_count == expected["manifest_count"]
    assert list(reading.actions) == expected["actions"]
    # Distinct values, stripped (C_with_CAWG_data.jpg stores one with a leading space).
    distinct = dict.fromkeys(t.strip() for t in expected["digital_source_types"])
    assert list(reading.digital_source_types) == list(distinct)
    assert list(reading.assertion_labels) == expected["assertion_labels"]
    assert [(i.title, i.relationship, i.has_manifest) for i in reading.ingredients] == \
        [(i["title"], i["relationship"], i["has_manifest"]) for i in expected["ingredients"]]
    signature = expected["signature"]
    assert reading.signer_issuer == signature["issuer"]
    assert reading.signer_common_name == signature["common_name"]
    assert reading.signing_time == signature["time"]
    if expected["claim_generator"]:
        assert reading.generator == expected["claim_generator"]
    else:
        first = expected["claim_generator_info"][0]
        assert reading.generator.startswith(first["name"])


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if not e["reader_error"]))
def test_reading_with_the_c2pa_rs_test_anchors(name, test_anchor_file):
    expected = EXPECTED[name]["with_c2pa_rs_test_trust_anchors"]
    reading = read_credentials(CORPUS / name, trust_list=test_anchor_file)
    assert reading.state == expected["validation_state"]
    assert list(reading.status_codes) == expected["validation_status_codes"]


def test_key_failures_are_visible():
    """The three ways a credential breaks, each named by its spec code."""
    assert "assertion.dataHash.mismatch" in read_credentials(CORPUS / "XCA.jpg").failure_codes
    assert "claimSignature.mismatch" in read_credentials(CORPUS / "E-sig-CA.jpg").failure_codes
    expired = read_credentials(CORPUS / "A-signed.png")
    assert expired.state is CredentialState.INVALID and expired.has_code("signingCredential.expired")
    adobe = read_credentials((CORPUS / "A-signed.png").read_bytes())
    assert [b["alg"] for b in adobe.soft_bindings] == ["com.adobe.trustmark.P", "com.adobe.icn.dense"]
    assert "c2pa.watermarked" in adobe.actions
