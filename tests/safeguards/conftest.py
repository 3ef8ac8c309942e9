"""Fixtures for the safeguards tests: a real production CA (keys.create_production_ca) to sign
Content Credentials with and read them back against, one per test module."""

from __future__ import annotations

import pytest

from soundstage.safeguards.keys import create_production_ca, load_signer

PASSPHRASE = "s3cret"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """The production CA of "Night Shoot" (its key under PASSPHRASE)."""
    return create_production_ca(tmp_path_factory.mktemp("keys") / "prod", "Night Shoot", PASSPHRASE)


@pytest.fixture(scope="module")
def credentials(keys):
    """The production's signer, loaded from ``keys``."""
    return load_signer(keys.directory, PASSPHRASE)


@pytest.fixture(scope="module")
def ca_pem(keys) -> bytes:
    """The CA certificate, as a reader's trust anchor."""
    return keys.ca_cert.read_bytes()
