"""OTIO keeps each clip's provenance; the EDL keeps asset ids in clip names."""

from __future__ import annotations

from soundstage.previz.timeline import TimelineClip, build_timeline, clip_records, read_timeline, write_edl, write_otio


def test_otio_and_edl_round_trip(tmp_path):
    clips = [TimelineClip("1-A", "1", 3.0, tmp_path / "a.png", "00000000000000aa", "urn:c2pa:a", "00000000000000aa"),
             TimelineClip("1-B", "1", 2.5, tmp_path / "b.png", "00000000000000bb", "urn:c2pa:b", "00000000000000bb")]
    tl = build_timeline("T", clips)
    back = clip_records(read_timeline(write_otio(tl, tmp_path / "t.otio")))
    assert [r["seconds"] for r in back] == [3.0, 2.5]
    assert back[1]["soundstage"]["c2pa_manifest"] == "urn:c2pa:b"
    assert back[0]["soundstage"]["label"] == "temporary previz media"
    edl = read_timeline(write_edl(tl, tmp_path / "t.edl"))
    assert [r["name"] for r in clip_records(edl)] == ["1-A 00000000000000aa", "1-B 00000000000000bb"]
