"""The render node's own folder, and the local-paths store a one-machine job uses."""

from __future__ import annotations

import pytest

from soundstage.compute.nodes import LocalPathsStore
from soundstage.errors import BackendError, NotFoundError


def test_a_node_folder_someone_else_can_write_is_refused(tmp_path, monkeypatch):
    from soundstage.compute.nodes import node_temp_root

    shared = tmp_path / "node"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # as another user's folder in a shared /tmp would be
    monkeypatch.setenv("SOUNDSTAGE_NODE_DIR", str(shared))
    with pytest.raises(BackendError, match="not a private folder"):
        node_temp_root()
    shared.chmod(0o700)
    assert node_temp_root() == shared
    link = tmp_path / "link"
    link.symlink_to(shared)
    monkeypatch.setenv("SOUNDSTAGE_NODE_DIR", str(link))
    with pytest.raises(BackendError, match="not a private folder"):
        node_temp_root()


def test_local_paths_store_publishes_and_pulls_within_its_work_root(tmp_path):
    store = LocalPathsStore(str(tmp_path))
    with pytest.raises(NotFoundError):
        store.fetch(str(tmp_path / "missing.mp4"))
    outside = tmp_path / "segment.mp4"
    outside.write_bytes(b"seg")
    store.put_work("job-a", outside)
    assert (tmp_path / "job-a" / "segment.mp4").read_bytes() == b"seg"
    assert store.get_work("job-a", "segment.mp4", tmp_path / "copy") and (tmp_path / "copy").read_bytes() == b"seg"
    assert not store.get_work("job-a", "other.mp4", tmp_path / "none") and not store.portable
