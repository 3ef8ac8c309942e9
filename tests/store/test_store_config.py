"""``[store]`` in soundstage.toml → which content store: a pure function of the table and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundstage.errors import SpecError, WorkspaceError
from soundstage.store.backends import LocalStoreConfig, open_store, parse_store_config
from soundstage.store.assets import AssetStore
from soundstage.store.s3 import MIB, S3Config, S3Store

ROOT = Path("/studio/the-last-take")
ENV = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
       "STUDIO_KEY": "studio-key", "STUDIO_SECRET": "studio-secret", "STUDIO_TOKEN": "sts-token"}


def parse(table, env=ENV):
    return parse_store_config(table, root=ROOT, production_id="a1b2c3d4e5f6", env=env)


def test_no_table_or_local_means_the_workspace_folder():
    assert parse(None) == LocalStoreConfig(ROOT / "assets")
    assert parse({"backend": "local"}) == LocalStoreConfig(ROOT / "assets")
    assert isinstance(open_store(parse(None)), AssetStore)


def test_a_full_s3_table():
    config = parse({"backend": "s3", "endpoint": "https://s3.studio.example/", "bucket": "the-last-take",
                    "region": "eu-west-3", "prefix": "plates", "access_key_env": "STUDIO_KEY",
                    "secret_key_env": "STUDIO_SECRET", "session_token_env": "STUDIO_TOKEN",
                    "cache_dir": "/fast/cache", "part_size_mib": 128, "upload_threads": 4,
                    "addressing_style": "virtual", "ca_bundle": "keys/s3-ca.pem"})
    assert config == S3Config(bucket="the-last-take", cache_dir=Path("/fast/cache"), access_key="studio-key",
                              secret_key="studio-secret", endpoint="https://s3.studio.example", region="eu-west-3",
                              prefix="plates/", session_token="sts-token", part_size=128 * MIB, upload_threads=4,
                              addressing_style="virtual", ca_bundle=ROOT / "keys/s3-ca.pem",
                              access_key_env="STUDIO_KEY", secret_key_env="STUDIO_SECRET",
                              session_token_env="STUDIO_TOKEN")  # the names a render node is told to read
    assert "studio-secret" not in repr(config) and "sts-token" not in repr(config)
    store = open_store(config)
    assert isinstance(store, S3Store) and store.location == "s3://the-last-take/plates/ at https://s3.studio.example"
    store.close()


def test_s3_defaults():
    config = parse({"backend": "s3", "bucket": "plates"})
    assert (config.endpoint, config.region, config.prefix, config.part_size, config.cache_dir) == \
        (None, "us-east-1", "a1b2c3d4e5f6/", 64 * MIB, ROOT / "cache" / "s3")
    assert (config.access_key, config.secret_key, config.session_token) == \
        ("AKIDEXAMPLE", ENV["AWS_SECRET_ACCESS_KEY"], None)
    assert parse({"backend": "s3", "bucket": "plates", "prefix": ""}).prefix == ""


@pytest.mark.parametrize("key", ["access_key", "secret_key", "aws_secret_access_key", "aws_access_key_id",
                                 "password", "session_token", "credentials"])
def test_credentials_in_the_file_are_refused(key):
    with pytest.raises(SpecError, match="credentials never go in soundstage.toml"):
        parse({"backend": "s3", "bucket": "plates", key: "wJalrXUtnFEMI"})


def test_an_unset_credential_variable_is_named():
    with pytest.raises(WorkspaceError, match="STUDIO_SECRET is empty"):
        parse({"backend": "s3", "bucket": "plates", "access_key_env": "STUDIO_KEY",
               "secret_key_env": "STUDIO_SECRET"}, env={"STUDIO_KEY": "k"})
    with pytest.raises(SpecError, match="must name an environment variable"):
        parse({"backend": "s3", "bucket": "plates", "secret_key_env": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"})


@pytest.mark.parametrize("table, field", [
    ("s3", "store"),
    ({"backend": "gcs"}, "store.backend"),
    ({"backend": "s3"}, "store.bucket"),
    ({"backend": "s3", "bucket": "Plates_Bucket"}, "store.bucket"),
    ({"backend": "s3", "bucket": "ab"}, "store.bucket"),
    ({"backend": "s3", "bucket": "plates", "endpoint": "ftp://s3.example"}, "store.endpoint"),
    ({"backend": "s3", "bucket": "plates", "endpoint": "https://key:secret@s3.example"}, "store.endpoint"),
    ({"backend": "s3", "bucket": "plates", "endpoint": "https://s3.example/bucket"}, "store.endpoint"),
    ({"backend": "s3", "bucket": "plates", "part_size_mib": 4}, "store.part_size_mib"),
    ({"backend": "s3", "bucket": "plates", "part_size_mib": 5121}, "store.part_size_mib"),
    ({"backend": "s3", "bucket": "plates", "part_size_mib": True}, "store.part_size_mib"),
    ({"backend": "s3", "bucket": "plates", "upload_threads": 0}, "store.upload_threads"),
    ({"backend": "s3", "bucket": "plates", "prefix": "/abs"}, "store.prefix"),
    ({"backend": "s3", "bucket": "plates", "prefix": "a/../b"}, "store.prefix"),
    ({"backend": "s3", "bucket": "plates", "addressing_style": "dns"}, "store.addressing_style"),
    ({"backend": "s3", "bucket": "plates", "bucket_name": "x"}, "store"),
    ({"backend": "local", "bucket": "plates"}, "store.bucket"),
])
def test_bad_settings_name_their_field(table, field):
    with pytest.raises(SpecError, match=f"field '{field}'"):
        parse(table)
