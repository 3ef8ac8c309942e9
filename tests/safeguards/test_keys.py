"""Production signing keys: the certificate profile C2PA accepts, and refusals that explain themselves."""

from __future__ import annotations

import datetime as dt
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from soundstage.errors import AlreadyExistsError, InputError, NotFoundError, SpecError
from soundstage.safeguards.keys import (
    C2PA_CLAIM_SIGNING_EKU,
    create_production_ca,
    import_signing_credentials,
    load_signer,
    signature_der_to_raw,
    validate_signing_chain,
)


@pytest.fixture(scope="module")
def encrypted_keys(tmp_path_factory):
    directory = tmp_path_factory.mktemp("keys") / "prod"
    return create_production_ca(directory, "Night Shoot", "correct horse")


def _ext(cert: x509.Certificate, kind):
    return cert.extensions.get_extension_for_class(kind)


def test_ca_and_leaf_follow_the_c2pa_profile(encrypted_keys):
    chain = x509.load_pem_x509_certificates(encrypted_keys.chain.read_bytes())
    leaf, ca = chain
    assert x509.load_pem_x509_certificate(encrypted_keys.ca_cert.read_bytes()) == ca

    ca_basic = _ext(ca, x509.BasicConstraints)
    assert ca_basic.critical and ca_basic.value.ca and ca_basic.value.path_length == 0
    ca_usage = _ext(ca, x509.KeyUsage)
    assert ca_usage.critical and ca_usage.value.key_cert_sign and ca_usage.value.crl_sign
    assert not ca_usage.value.digital_signature

    leaf_basic = _ext(leaf, x509.BasicConstraints)
    assert leaf_basic.critical and not leaf_basic.value.ca
    usage = _ext(leaf, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert list(_ext(leaf, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.EMAIL_PROTECTION,
                                                              C2PA_CLAIM_SIGNING_EKU]
    assert _ext(leaf, x509.AuthorityKeyIdentifier).value.key_identifier == \
        _ext(ca, x509.SubjectKeyIdentifier).value.digest
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Night Shoot"
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Night Shoot claim signer"
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey) and leaf.public_key().curve.name == "secp256r1"
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert dt.timedelta(days=700) < lifetime < dt.timedelta(days=740)
    leaf.verify_directly_issued_by(ca)


def test_private_keys_are_encrypted_pkcs8_and_private(encrypted_keys):
    for path in (encrypted_keys.signer_key, encrypted_keys.ca_key):
        text = path.read_bytes()
        assert text.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(encrypted_keys.directory.glob(".*"))  # no temp files left behind


def test_unencrypted_keys_are_0600(tmp_path):
    paths = create_production_ca(tmp_path / "k", "Plain", None)
    assert paths.signer_key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(paths.signer_key.stat().st_mode) == 0o600
    assert load_signer(paths.directory, None).algorithm == "ES256"


def test_load_signer_needs_the_right_passphrase(encrypted_keys):
    credentials = load_signer(encrypted_keys.directory, "correct horse")
    assert credentials.algorithm == "ES256"
    assert "Night Shoot claim signer" in credentials.subject
    assert credentials.private_key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    with pytest.raises(InputError, match="wrong passphrase") as wrong:
        load_signer(encrypted_keys.directory, "battery staple")
    assert "\n" not in wrong.value.one_line()
    with pytest.raises(InputError, match="passphrase is needed"):
        load_signer(encrypted_keys.directory, None)


def test_keys_are_never_overwritten(encrypted_keys):
    before = encrypted_keys.signer_key.read_bytes()
    with pytest.raises(AlreadyExistsError):
        create_production_ca(encrypted_keys.directory, "Night Shoot", "x")
    assert encrypted_keys.signer_key.read_bytes() == before


def test_missing_directory_is_not_found(tmp_path):
    with pytest.raises(NotFoundError):
        load_signer(tmp_path / "nothing", None)


# --------------------------------------------------------------------------- import / validation

def _self_signed_leaf() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "self signer")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([C2PA_CLAIM_SIGNING_EKU]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def test_self_signed_leaf_is_refused(tmp_path):
    chain, key = _self_signed_leaf()
    with pytest.raises(SpecError, match="self-signed") as refused:
        import_signing_credentials(tmp_path / "imp", chain, key, None)
    assert "\n" not in refused.value.one_line()
    assert not (tmp_path / "imp" / "chain.pem").exists()


def test_import_accepts_a_good_chain_and_reencrypts(tmp_path, encrypted_keys):
    chain = encrypted_keys.chain.read_bytes()
    key_pem = encrypted_keys.signer_key.read_bytes()
    paths = import_signing_credentials(tmp_path / "imp", chain, key_pem, "new pass", key_passphrase="correct horse")
    assert paths.ca_key is None
    assert load_signer(paths.directory, "new pass").subject == load_signer(encrypted_keys.directory,
                                                                            "correct horse").subject


def test_import_refuses_a_key_that_does_not_match(tmp_path, encrypted_keys):
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(SpecError, match="does not match"):
        import_signing_credentials(tmp_path / "imp", encrypted_keys.chain.read_bytes(), other, None)


def test_expired_leaf_and_reversed_chain_are_refused(encrypted_keys):
    chain = encrypted_keys.chain.read_bytes()
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=800)
    with pytest.raises(SpecError, match="expired"):
        validate_signing_chain(chain, now=later)
    leaf, ca = x509.load_pem_x509_certificates(chain)
    pem = serialization.Encoding.PEM
    with pytest.raises(SpecError):
        validate_signing_chain(ca.public_bytes(pem) + leaf.public_bytes(pem))


def test_der_signature_becomes_fixed_width_raw():
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.sign(b"claim", ec.ECDSA(hashes.SHA256()))
    raw = signature_der_to_raw(der, 32)
    assert len(raw) == 64
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    key.public_key().verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                            b"claim", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InputError):
        signature_der_to_raw(b"\x00\x01", 32)


def test_the_production_signer_reads_the_passphrase_from_the_recorded_variable(tmp_path, monkeypatch):
    from soundstage.safeguards.keys import load_production_signer, passphrase_env

    paths = create_production_ca(tmp_path / "k", "Night Shoot", "correct horse", passphrase_env="STUDIO_KEY_PASS")
    assert passphrase_env(paths.directory) == "STUDIO_KEY_PASS"
    assert "correct horse" not in (paths.directory / "signing.json").read_text()  # the name, never the secret
    monkeypatch.setenv("SOUNDSTAGE_KEY_PASSPHRASE", "battery staple")  # not the variable this key uses
    monkeypatch.setenv("STUDIO_KEY_PASS", "correct horse")
    assert load_production_signer(paths.directory).algorithm == "ES256"
    monkeypatch.delenv("STUDIO_KEY_PASS")
    with pytest.raises(InputError, match=r"\$STUDIO_KEY_PASS is not set") as missing:
        load_production_signer(paths.directory)
    assert "\n" not in missing.value.one_line()


def test_the_production_signer_defaults_and_ignores_the_variable_for_a_plain_key(tmp_path, monkeypatch):
    from soundstage.errors import WorkspaceError
    from soundstage.safeguards.keys import DEFAULT_PASSPHRASE_ENV, load_production_signer, passphrase_env

    legacy = create_production_ca(tmp_path / "legacy", "Night Shoot", "correct horse")  # nothing recorded
    assert passphrase_env(legacy.directory) == DEFAULT_PASSPHRASE_ENV == "SOUNDSTAGE_KEY_PASSPHRASE"
    monkeypatch.delenv(DEFAULT_PASSPHRASE_ENV, raising=False)
    with pytest.raises(InputError, match=r"\$SOUNDSTAGE_KEY_PASSPHRASE is not set"):
        load_production_signer(legacy.directory)
    monkeypatch.setenv(DEFAULT_PASSPHRASE_ENV, "correct horse")
    assert load_production_signer(legacy.directory).algorithm == "ES256"

    plain = create_production_ca(tmp_path / "plain", "Night Shoot", None, passphrase_env="STUDIO_KEY_PASS")
    assert not (plain.directory / "signing.json").exists()
    assert load_production_signer(plain.directory).algorithm == "ES256"  # the set variable is not forced on it

    with pytest.raises(SpecError, match="passphrase_env"):
        create_production_ca(tmp_path / "bad", "Night Shoot", "x", passphrase_env="A=B")
    assert not (tmp_path / "bad").exists()
    (legacy.directory / "signing.json").write_text("[]")
    with pytest.raises(WorkspaceError, match="signing.json"):
        load_production_signer(legacy.directory)


# --------------------------------------------------------------------------- key files others can read

@pytest.mark.parametrize("name", ["signer.key", "ca.key"])
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660])
def test_a_private_key_others_can_read_or_write_is_refused(tmp_path, name, mode):
    from soundstage.errors import WorkspaceError
    from soundstage.safeguards.keys import load_production_signer

    paths = create_production_ca(tmp_path / "k", "Night Shoot", None)
    exposed = paths.directory / name
    exposed.chmod(mode)
    with pytest.raises(WorkspaceError) as refused:
        load_production_signer(paths.directory)
    line = refused.value.one_line()
    assert str(exposed) in line and f"(chmod 600 {exposed})" in line and "\n" not in line
    if name == "signer.key":  # the low-level loader refuses it too (ca.key it never reads)
        with pytest.raises(WorkspaceError, match="other users"):
            load_signer(paths.directory, None)
    exposed.chmod(0o600)
    assert load_production_signer(paths.directory).algorithm == "ES256"


def test_a_symlink_to_a_readable_key_is_judged_by_the_file_it_names(tmp_path):
    from soundstage.errors import WorkspaceError
    from soundstage.safeguards.keys import load_production_signer

    paths = create_production_ca(tmp_path / "k", "Night Shoot", None)
    elsewhere = tmp_path / "shared.key"
    paths.signer_key.rename(elsewhere)
    elsewhere.chmod(0o644)
    paths.signer_key.symlink_to(elsewhere)  # a link is always 0777 itself: what counts is what it opens
    with pytest.raises(WorkspaceError, match="can be read or written by other users"):
        load_production_signer(paths.directory)


def test_private_key_problems_names_each_exposed_file(tmp_path):
    from soundstage.safeguards.keys import private_key_problems

    paths = create_production_ca(tmp_path / "k", "Night Shoot", None)
    assert private_key_problems(paths.directory) == []
    paths.ca_key.chmod(0o644)
    problems = private_key_problems(paths.directory)
    assert len(problems) == 1 and str(paths.ca_key) in problems[0] and "chmod 600" in problems[0]


# --------------------------------------------------------------------------- expiry before a job, renewal

def test_an_expired_signing_certificate_says_how_to_renew(tmp_path):
    from soundstage.errors import WorkspaceError
    from soundstage.safeguards.keys import load_production_signer

    paths = create_production_ca(tmp_path / "k", "Night Shoot", None, validity_days=30)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)
    with pytest.raises(WorkspaceError) as expired:
        load_production_signer(paths.directory, now=later)
    line = expired.value.one_line()
    assert "expired on" in line and str(paths.chain) in line and "soundstage keys renew" in line
    assert "field 'chain'" not in line and "\n" not in line
    # an imported chain (no ca.key) is renewed by its issuer: the hint says so
    imported = import_signing_credentials(tmp_path / "imp", paths.chain.read_bytes(), paths.signer_key.read_bytes(),
                                          None)
    with pytest.raises(WorkspaceError) as imported_expired:
        load_production_signer(imported.directory, now=later)
    assert "soundstage keys import" in imported_expired.value.one_line()


def test_check_signer_refuses_a_certificate_that_expires_within_the_run(tmp_path):
    from soundstage.errors import WorkspaceError
    from soundstage.safeguards.keys import SIGNING_MARGIN, check_signer

    paths = create_production_ca(tmp_path / "k", "Night Shoot", None, validity_days=10)
    now = dt.datetime.now(dt.timezone.utc)
    assert check_signer(paths.directory, now=now).algorithm == "ES256"
    nearly = now + dt.timedelta(days=10) - SIGNING_MARGIN + dt.timedelta(minutes=10)
    with pytest.raises(WorkspaceError) as soon:
        check_signer(paths.directory, now=nearly)
    assert "within 24 hours" in soon.value.one_line() and "soundstage keys renew" in soon.value.one_line()
    assert check_signer(paths.directory, now=nearly, runs_for=dt.timedelta(minutes=1)).algorithm == "ES256"


def test_renewal_issues_a_new_leaf_from_the_same_ca(tmp_path):
    from soundstage.safeguards.keys import fingerprints, load_production_signer, renew_signing_certificate

    paths = create_production_ca(tmp_path / "k", "Night Shoot", None, validity_days=100)  # the CA: 500 days
    old_leaf, ca = x509.load_pem_x509_certificates(paths.chain.read_bytes())
    ca_files = (paths.ca_cert.read_bytes(), paths.ca_key.read_bytes())
    before = fingerprints(paths.directory)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=101)  # the leaf has expired by then

    renewed = renew_signing_certificate(paths.directory, validity_days=365, now=later)
    after = fingerprints(renewed.directory)
    assert (paths.ca_cert.read_bytes(), paths.ca_key.read_bytes()) == ca_files  # the CA is untouched
    assert after.anchor_sha256 == before.anchor_sha256 and after.ca_sha256 == before.ca_sha256
    assert after.leaf_sha256 != before.leaf_sha256
    leaf, chained_ca = x509.load_pem_x509_certificates(paths.chain.read_bytes())
    assert chained_ca == ca and leaf.serial_number != old_leaf.serial_number
    assert leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) \
        != old_leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    leaf.verify_directly_issued_by(ca)
    old_leaf.verify_directly_issued_by(ca)  # what files signed before carry still chains to the same anchor
    assert leaf.subject == old_leaf.subject
    assert list(_ext(leaf, x509.ExtendedKeyUsage).value) == list(_ext(old_leaf, x509.ExtendedKeyUsage).value)
    assert _ext(leaf, x509.AuthorityKeyIdentifier).value.key_identifier == \
        _ext(ca, x509.SubjectKeyIdentifier).value.digest
    assert leaf.not_valid_after_utc - later > dt.timedelta(days=364)
    assert stat.S_IMODE(paths.signer_key.stat().st_mode) == 0o600
    assert not list(paths.directory.glob(".*"))  # no temp files left behind
    assert load_production_signer(paths.directory, now=later).not_after == leaf.not_valid_after_utc


def test_renewal_never_outlives_the_ca_and_keeps_the_key_encrypted(tmp_path, monkeypatch):
    from soundstage.safeguards.keys import load_production_signer, renew_signing_certificate

    paths = create_production_ca(tmp_path / "k", "Night Shoot", "correct horse", passphrase_env="STUDIO_KEY_PASS",
                                 validity_days=30)
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    monkeypatch.delenv("STUDIO_KEY_PASS", raising=False)
    with pytest.raises(InputError, match=r"CA key .*\$STUDIO_KEY_PASS is not set"):
        renew_signing_certificate(paths.directory)
    monkeypatch.setenv("STUDIO_KEY_PASS", "correct horse")
    near_the_end = ca.not_valid_after_utc - dt.timedelta(days=10)
    renew_signing_certificate(paths.directory, validity_days=730, now=near_the_end)
    leaf = x509.load_pem_x509_certificates(paths.chain.read_bytes())[0]
    assert leaf.not_valid_after_utc == ca.not_valid_after_utc
    assert paths.signer_key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert load_production_signer(paths.directory, now=near_the_end).algorithm == "ES256"


def test_renewal_refuses_what_it_cannot_renew_from(tmp_path):
    from soundstage.errors import IntegrityError, WorkspaceError
    from soundstage.safeguards.keys import renew_signing_certificate

    paths = create_production_ca(tmp_path / "k", "Night Shoot", None)
    chain_before = paths.chain.read_bytes()
    # an imported chain has no ca.key: its issuer renews it
    imported = import_signing_credentials(tmp_path / "imp", chain_before, paths.signer_key.read_bytes(), None)
    with pytest.raises(NotFoundError) as no_ca:
        renew_signing_certificate(imported.directory)
    assert f"{imported.directory / 'ca.key'} is missing" in no_ca.value.one_line()
    assert "soundstage keys import" in no_ca.value.one_line()
    # a CA key others can read is not used
    paths.ca_key.chmod(0o644)
    with pytest.raises(WorkspaceError, match="other users"):
        renew_signing_certificate(paths.directory)
    paths.ca_key.chmod(0o600)
    # another CA's key planted beside ca.pem does not issue for it
    other = create_production_ca(tmp_path / "other", "Somebody Else", None)
    paths.ca_key.write_bytes(other.ca_key.read_bytes())
    with pytest.raises(IntegrityError, match="is not the key of the CA certificate"):
        renew_signing_certificate(paths.directory)
    # a CA at (or past) its end issues nothing
    fresh = create_production_ca(tmp_path / "fresh", "Night Shoot", None, validity_days=1)
    with pytest.raises(WorkspaceError, match="cannot issue"):
        renew_signing_certificate(fresh.directory, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=6))
    assert paths.chain.read_bytes() == chain_before  # nothing was replaced by any refusal


# --------------------------------------------------------------------------- the keys the audit log records

class _Ledger:
    def __init__(self, recorded):
        self.recorded = recorded

    def recorded_signing_keys(self):
        return self.recorded


def _recorded(directory, seq: int = 7):
    from soundstage.safeguards.keys import RecordedKeys, fingerprints

    return RecordedKeys(fingerprints(directory), seq, "keys.created")


def test_fingerprints_are_the_sha256_of_each_certificate(tmp_path):
    import hashlib

    from soundstage.safeguards.keys import fingerprints

    paths = create_production_ca(tmp_path / "k", "Night Shoot", None)
    leaf, ca = x509.load_pem_x509_certificates(paths.chain.read_bytes())
    der = serialization.Encoding.DER
    found = fingerprints(paths.directory)
    assert found.leaf_sha256 == hashlib.sha256(leaf.public_bytes(der)).hexdigest()
    assert found.ca_sha256 == found.anchor_sha256 == hashlib.sha256(ca.public_bytes(der)).hexdigest()
    paths.ca_cert.unlink()
    assert fingerprints(paths.directory).anchor_sha256 is None


def test_swapped_certificates_are_each_named(tmp_path):
    import shutil

    from soundstage.errors import IntegrityError
    from soundstage.safeguards.keys import check_recorded, recorded_mismatches

    paths = create_production_ca(tmp_path / "k", "Night Shoot", None)
    recorded = _recorded(paths.directory)
    assert recorded_mismatches(paths.directory, recorded) == []
    check_recorded(paths.directory, recorded)
    other = create_production_ca(tmp_path / "other", "Somebody Else", None)

    shutil.copy(other.ca_cert, paths.ca_cert)  # (a) only the trust anchor readers are given
    assert [m.field for m in recorded_mismatches(paths.directory, recorded)] == ["anchor_sha256"]
    with pytest.raises(IntegrityError) as refused:
        check_recorded(paths.directory, recorded)
    line = refused.value.one_line()
    assert f"{paths.ca_cert} is not the production CA certificate the audit log records (event #7" in line
    assert "nothing was signed" in line and "soundstage keys init, import or renew" in line and "\n" not in line

    paths.ca_cert.write_bytes(x509.load_pem_x509_certificates(paths.chain.read_bytes())[1].public_bytes(
        serialization.Encoding.PEM))  # restored
    for name in ("chain.pem", "signer.key"):  # (b) another CA's pair, ca.pem left alone
        shutil.copy(other.directory / name, paths.directory / name)
    assert [m.field for m in recorded_mismatches(paths.directory, recorded)] == ["ca_sha256", "leaf_sha256"]
    with pytest.raises(IntegrityError, match=r"chains to a CA the audit log does not record .* \(and 1 more\)"):
        check_recorded(paths.directory, recorded)

    paths.chain.unlink()  # (c) a chain gone is not "as recorded" either
    assert {m.field for m in recorded_mismatches(paths.directory, recorded)} == {"ca_sha256", "leaf_sha256"}


def test_a_leaf_issued_by_the_recorded_ca_but_not_recorded_is_refused(tmp_path):
    """Someone holding ca.key mints a leaf of their own: same CA, a leaf nobody recorded."""
    from soundstage.errors import IntegrityError
    from soundstage.safeguards.keys import check_recorded, renew_signing_certificate

    paths = create_production_ca(tmp_path / "k", "Night Shoot", None)
    recorded = _recorded(paths.directory)
    renew_signing_certificate(paths.directory)
    with pytest.raises(IntegrityError, match="holds a signing certificate the audit log does not record"):
        check_recorded(paths.directory, recorded)


def test_an_adopted_directory_signs_only_with_the_recorded_keys(tmp_path):
    import gc
    import shutil

    from soundstage.errors import IntegrityError
    from soundstage.safeguards.keys import adopt_ledger, load_production_signer

    paths = create_production_ca(tmp_path / "k", "Night Shoot", None)
    other = create_production_ca(tmp_path / "other", "Somebody Else", None)
    ledger = _Ledger(_recorded(paths.directory))
    adopt_ledger(paths.directory, ledger)
    assert load_production_signer(paths.directory).algorithm == "ES256"
    for name in ("chain.pem", "signer.key"):
        shutil.copy(other.directory / name, paths.directory / name)
    with pytest.raises(IntegrityError, match="chains to a CA the audit log does not record"):
        load_production_signer(paths.directory)
    # the path it is loaded by does not matter (a relative path, a symlink to the directory)
    (tmp_path / "link").symlink_to(paths.directory)
    with pytest.raises(IntegrityError):
        load_production_signer(tmp_path / "link")
    # a ledger that records nothing (keys from before fingerprints were recorded) holds nothing to them
    ledger.recorded = None
    assert load_production_signer(paths.directory).subject.endswith("O=Somebody Else")
    # the registry holds its ledgers weakly: once the workspace is gone, nothing is held
    del ledger
    gc.collect()
    assert load_production_signer(paths.directory).algorithm == "ES256"


def test_a_swap_between_the_check_and_the_load_is_refused(tmp_path, monkeypatch):
    """The recorded keys are checked again on the chain actually loaded, not only on the files before."""
    import shutil

    from soundstage.errors import IntegrityError
    from soundstage.safeguards import keys as keys_module

    paths = create_production_ca(tmp_path / "k", "Night Shoot", None)
    other = create_production_ca(tmp_path / "other", "Somebody Else", None)
    ledger = _Ledger(_recorded(paths.directory))
    keys_module.adopt_ledger(paths.directory, ledger)
    real_load = keys_module.load_signer

    def swap_then_load(directory, passphrase, **kwargs):
        for name in ("chain.pem", "signer.key"):
            shutil.copy(other.directory / name, paths.directory / name)
        return real_load(directory, passphrase, **kwargs)

    monkeypatch.setattr(keys_module, "load_signer", swap_then_load)
    with pytest.raises(IntegrityError, match="chains to a CA the audit log does not record"):
        keys_module.load_production_signer(paths.directory)


def test_trust_anchors_name_the_setting_of_a_missing_anchor(tmp_path):
    """keys.trust_anchors, the one list every reader of a workspace uses: ca.pem first, then the
    configured anchors in order; a configured one that is missing is named with its setting."""
    from types import SimpleNamespace

    from soundstage.safeguards.keys import trust_anchors

    directory = tmp_path / "keys"
    made = create_production_ca(directory, "Night Shoot", None)
    studio, tsa = tmp_path / "studio.pem", tmp_path / "tsa-ca.pem"
    studio.write_bytes(b"-----BEGIN CERTIFICATE-----\nstudio\n-----END CERTIFICATE-----\n")
    settings = SimpleNamespace(keys_dir=directory, trust_anchors=(studio, tsa), tsa_trust_anchor=tsa)
    with pytest.raises(InputError) as caught:
        trust_anchors(settings)
    assert caught.value.one_line().startswith(
        f"configured trust anchor not found: {tsa} ([provenance] tsa_trust_anchor) (put the PEM certificate there")
    tsa.write_bytes(b"-----BEGIN CERTIFICATE-----\ntsa\n-----END CERTIFICATE-----\n")
    assert trust_anchors(settings) == [made.ca_cert.read_bytes(), studio.read_bytes(), tsa.read_bytes()]
