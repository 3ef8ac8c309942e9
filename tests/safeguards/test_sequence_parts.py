"""Frame sequences longer than one manifest holds are signed in parts, and every part is verified.

c2pa-python 0.38.1 refuses a manifest definition over 1 MiB of JSON ("StringTooLong:
manifest_json"); a sequence sidecar lists every frame (~118 bytes each for ``plate.1001.exr``), so
one sidecar held at most 8,878 such frames (measured; DR008, amendment). Past that `sign_sequence`
writes ``plate.part0001.c2pa`` + ``plate.part0001.sha256``, ... each an ordinary sequence sidecar over
a contiguous run of frames that names its number, the number of parts and the digest of the whole
frame list. `verify_sequence`, given every part, names a part that is missing, a frame changed (and
the part that signs it), and a frame no part covers; c2pa-wasm reads a part as we do.

The long sequence is 9,000 frames of 20 bytes, signed once per module; each test tampers with a
copy made of hard links (a tampered frame is replaced, never written through the link).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from soundstage.errors import InputError, ParseError, SpecError, UnsafeInputError
from soundstage.safeguards.provenance import (
    FRAME_INDEX_ASSERTION,
    CredentialState,
    ManifestSpec,
    Operation,
    SoftwareAgent,
    SoundstageRecord,
    read_sidecar,
    sign_sequence,
    verify_sequence,
)
LONG = 9_000  # above the 8,878 frames one sidecar held
#: the part size when none is chosen, as documented (sidecars.DEFAULT_PART_FRAMES)
PART = 4_096


def sequence_parts(sidecar: Path) -> list[Path]:
    from soundstage.safeguards.provenance import sequence_parts as found

    return found(sidecar)
RECORD = SoundstageRecord("prod-night-shoot", "job-77", "00000000000000b2", ())


def spec() -> ManifestSpec:
    return ManifestSpec(Operation.PROCEDURAL, "plate.####.exr", SoftwareAgent("nuke", "16.0"), record=RECORD)


def frame_bytes(index: int) -> bytes:
    return b"\x76\x2f\x31\x01" + index.to_bytes(4, "big") + b"exr-frame-16"


def make_frames(folder: Path, count: int, first: int = 1001) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    frames = []
    for index in range(first, first + count):
        frame = folder / f"plate.{index:04d}.exr"
        frame.write_bytes(frame_bytes(index))
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def signed(tmp_path_factory, credentials):
    folder = tmp_path_factory.mktemp("long") / "shot"
    frames = make_frames(folder, LONG)
    result = sign_sequence(frames, folder / "plate.c2pa", spec(), credentials)
    return folder, result


@pytest.fixture
def shot(signed, tmp_path) -> Path:
    """A copy of the signed long sequence (frames, parts and lists), as hard links."""
    source, _ = signed
    copy = tmp_path / "shot"
    copy.mkdir()
    for name in os.listdir(source):
        os.link(source / name, copy / name)
    return copy


def frames_of(folder: Path) -> list[Path]:
    return sorted(folder.glob("plate.*.exr"))


def replace(path: Path, data: bytes) -> None:
    path.unlink()  # not through the hard link the module's copy shares
    path.write_bytes(data)


def test_the_one_sidecar_limit_is_where_c2pa_refuses_the_manifest(tmp_path, credentials):
    """The measured limit is c2pa's: planning counts the JSON exactly as c2pa-python serialises it."""
    from soundstage.safeguards.provenance import build_manifest
    from soundstage.safeguards.provenance.sidecars import MANIFEST_JSON_LIMIT, frame_entries
    from soundstage.safeguards.provenance.signing import plan_parts

    frames = make_frames(tmp_path / "seq", 8_879)
    entries = frame_entries(frames)
    manifest = build_manifest(spec())
    assert plan_parts(manifest, entries[:8_000]) == [(0, 8_000)]  # one sidecar, as before
    runs = plan_parts(manifest, entries)
    assert runs == [(0, PART), (PART, 2 * PART),
                    (2 * PART, 8_879)]
    import c2pa

    from soundstage.safeguards.provenance.sidecars import index_assertion

    def definition(run):
        return {**manifest, "assertions": [*manifest["assertions"],
                                           {"label": FRAME_INDEX_ASSERTION, "data": index_assertion(run)}]}

    assert len(json.dumps(definition(entries))) > MANIFEST_JSON_LIMIT >= len(json.dumps(definition(entries[:8_000])))
    with pytest.raises(c2pa.C2paError, match="StringTooLong"):  # what one sidecar for all of them met
        with c2pa.Builder(definition(entries)):
            pass


def test_a_sequence_above_the_limit_signs_in_parts_and_verifies(signed, ca_pem):
    folder, result = signed
    names = [p.path.name for p in result.parts]
    assert names == ["plate.part0001.c2pa", "plate.part0002.c2pa", "plate.part0003.c2pa"]
    assert result.path == result.parts[0].path and not (folder / "plate.c2pa").exists()
    assert [p.document.name for p in result.parts] == ["plate.part0001.sha256", "plate.part0002.sha256",
                                                       "plate.part0003.sha256"]
    lines = [p.document.read_text().splitlines() for p in result.parts]
    assert [len(x) for x in lines] == [PART, PART, LONG - 2 * PART]
    assert lines[1][0].endswith(f"  plate.{1001 + PART:04d}.exr")  # contiguous runs, in order
    assert sequence_parts(folder / "plate.c2pa") == [p.path for p in result.parts]

    checked = verify_sequence(frames_of(folder), sequence_parts(folder / "plate.c2pa"), trust_anchors=[ca_pem])
    assert checked.ok and checked.credentials.state is CredentialState.TRUSTED
    assert (checked.frames_signed, checked.parts_expected, checked.parts_missing) == (LONG, 3, ())
    assert checked.parts_problem is None and (checked.changed, checked.missing, checked.unexpected) == ((), (), ())
    assert [p.credentials.state for p in checked.parts] == [CredentialState.TRUSTED] * 3
    # a part read alone says which part of what it is
    alone = read_sidecar(result.parts[1].path, trust_anchors=[ca_pem])
    assert alone.credentials.state is CredentialState.TRUSTED
    assert (alone.frame_index.part.index, alone.frame_index.part.count, alone.frame_index.part.frames_total) == \
        (2, 3, LONG)


def test_a_deleted_part_is_named_and_its_frames_are_covered_by_no_part(shot, ca_pem):
    (shot / "plate.part0002.c2pa").unlink()
    checked = verify_sequence(frames_of(shot), sequence_parts(shot / "plate.c2pa"), trust_anchors=[ca_pem])
    assert not checked.ok and checked.parts_missing == (2,) and checked.parts_expected == 3
    assert len(checked.unexpected) == PART
    assert checked.unexpected[0] == f"plate.{1001 + PART:04d}.exr"
    assert [p.index for p in checked.parts] == [1, 3]


def test_a_frame_altered_in_part_2_is_named_with_its_part(shot, ca_pem):
    altered = shot / f"plate.{1001 + PART + 10:04d}.exr"
    replace(altered, b"\x76\x2f\x31\x01 painted over")
    checked = verify_sequence(frames_of(shot), sequence_parts(shot / "plate.c2pa"), trust_anchors=[ca_pem])
    assert not checked.ok and checked.changed == (altered.name,) and checked.parts_missing == ()
    states = [p.credentials.state for p in checked.parts]
    assert states == [CredentialState.TRUSTED, CredentialState.INVALID, CredentialState.TRUSTED]
    assert checked.parts[1].changed == (altered.name,)
    assert "assertion.dataHash.mismatch" in checked.parts[1].credentials.failure_codes
    assert checked.credentials.state is CredentialState.INVALID  # the weakest part's


def test_a_frame_no_part_covers_is_named(shot, ca_pem):
    added = shot / f"plate.{1001 + LONG:04d}.exr"
    added.write_bytes(frame_bytes(1001 + LONG))
    checked = verify_sequence(frames_of(shot), sequence_parts(shot / "plate.c2pa"), trust_anchors=[ca_pem])
    assert not checked.ok and checked.unexpected == (added.name,)
    assert checked.changed == () and checked.missing == () and checked.parts_missing == ()


def test_a_part_from_another_signing_does_not_pass_as_this_ones(shot, tmp_path, credentials, ca_pem):
    """Another signing of frames 1001-... with the same part size: its part 2 lists other frames (the
    sequences differ from one frame on), so the whole list the parts make is not the one signed."""
    other = tmp_path / "other"
    frames = make_frames(other, 2 * PART + 5)
    sign_sequence(frames, other / "plate.c2pa", spec(), credentials, part_frames=PART)
    replace(shot / "plate.part0002.c2pa", (other / "plate.part0002.c2pa").read_bytes())
    checked = verify_sequence(frames_of(shot), sequence_parts(shot / "plate.c2pa"), trust_anchors=[ca_pem])
    assert not checked.ok and "another signing" in checked.parts_problem
    # the same part given twice
    twice = verify_sequence(frames_of(shot), [shot / "plate.part0001.c2pa", shot / "plate.part0001.c2pa"],
                            trust_anchors=[ca_pem])
    assert not twice.ok and "both say they are part 1" in twice.parts_problem and twice.parts_missing == (2, 3)


def test_c2pa_wasm_agrees_on_a_part(shot, ca_pem):
    from soundstage.testing import independent_reader as independent

    reason = independent.missing()
    if reason:
        pytest.skip(reason)
    part = shot / "plate.part0002.c2pa"
    members = tuple(shot / line.split("  ", 1)[1] for line in part.with_suffix(".sha256").read_text().splitlines())
    assert len(members) == PART
    item = independent.SidecarItem(part, path=part.with_suffix(".sha256"), members=members)
    ours = verify_sequence(frames_of(shot), sequence_parts(shot / "plate.c2pa"), trust_anchors=[ca_pem]).parts[1]
    (clean,) = independent.read_with_c2pa_wasm([item], trust_anchors=[ca_pem])
    assert clean.state == ours.credentials.state.value == "Trusted"
    assert set(clean.failure_codes) == set(ours.credentials.failure_codes)
    assert FRAME_INDEX_ASSERTION in {label.split("__")[0] for label in clean.assertion_labels}

    replace(members[10], b"\x76\x2f\x31\x01 painted over")
    (tampered,) = independent.read_with_c2pa_wasm([item], trust_anchors=[ca_pem])
    ours = verify_sequence(frames_of(shot), sequence_parts(shot / "plate.c2pa"), trust_anchors=[ca_pem]).parts[1]
    assert tampered.state == ours.credentials.state.value == "Invalid"
    assert set(tampered.failure_codes) == set(ours.credentials.failure_codes)
    assert tampered.binding.changed == ours.changed == (members[10].name,)


def test_short_sequences_keep_one_sidecar_and_a_new_signing_replaces_the_old_shape(tmp_path, credentials, ca_pem):
    frames = make_frames(tmp_path / "seq", 7)
    whole = sign_sequence(frames, tmp_path / "seq" / "plate.c2pa", spec(), credentials)
    assert whole.parts == () and whole.path.name == "plate.c2pa" and whole.document.name == "plate.sha256"
    assert read_sidecar(whole.path).frame_index.part is None  # the assertion is what it was
    # a chosen part size splits a short sequence too; the whole sidecar it replaces is removed
    split = sign_sequence(frames, tmp_path / "seq" / "plate.c2pa", spec(), credentials, part_frames=3)
    assert [p.path.name for p in split.parts] == ["plate.part0001.c2pa", "plate.part0002.c2pa", "plate.part0003.c2pa"]
    assert not (tmp_path / "seq" / "plate.c2pa").exists() and not (tmp_path / "seq" / "plate.sha256").exists()
    assert verify_sequence(frames, sequence_parts(tmp_path / "seq" / "plate.c2pa"), trust_anchors=[ca_pem]).ok
    fewer = sign_sequence(frames, tmp_path / "seq" / "plate.c2pa", spec(), credentials, part_frames=4)
    assert len(fewer.parts) == 2 and sequence_parts(tmp_path / "seq" / "plate.c2pa") == [p.path for p in fewer.parts]
    again = sign_sequence(frames, tmp_path / "seq" / "plate.c2pa", spec(), credentials)
    assert again.parts == () and sequence_parts(tmp_path / "seq" / "plate.c2pa") == []
    assert verify_sequence(frames, again.path, trust_anchors=[ca_pem]).ok


def test_the_sizes_a_signer_or_a_reader_chooses_are_bounded(tmp_path, credentials):
    from soundstage.safeguards.provenance.sidecars import (
        DEFAULT_PART_FRAMES, MAX_PART_FRAMES, MAX_SEQUENCE_PARTS, _sequence_part,
    )

    assert DEFAULT_PART_FRAMES == PART
    frames = make_frames(tmp_path / "seq", 3)
    for bad in (0, -1, MAX_PART_FRAMES + 1, True, 2.5):
        with pytest.raises(SpecError, match="a part holds 1 to"):
            sign_sequence(frames, tmp_path / "seq" / "plate.c2pa", spec(), credentials, part_frames=bad)
    many = make_frames(tmp_path / "many", MAX_SEQUENCE_PARTS + 1)
    with pytest.raises(SpecError, match=f"at most {MAX_SEQUENCE_PARTS}"):
        sign_sequence(many, tmp_path / "many" / "plate.c2pa", spec(), credentials, part_frames=1)
    assert list((tmp_path / "many").glob("*.c2pa")) == []  # refused before anything was signed
    with pytest.raises(SpecError, match="named like a part"):
        sign_sequence(frames, tmp_path / "seq" / "plate.part0001.c2pa", spec(), credentials)
    with pytest.raises(UnsafeInputError, match="at most"):
        verify_sequence(frames, [tmp_path / f"p{i}.c2pa" for i in range(MAX_SEQUENCE_PARTS + 1)])
    with pytest.raises(InputError, match="no sidecar"):
        verify_sequence(frames, [])
    # a part record out of bounds or malformed is refused before it is believed
    good = {"index": 1, "count": 2, "frames_total": 9, "sequence_sha256": "0" * 64}
    assert _sequence_part(good).count == 2
    for bad in ({**good, "index": 3}, {**good, "count": MAX_SEQUENCE_PARTS + 1, "index": 1},
                {**good, "frames_total": 0}, {**good, "sequence_sha256": "zz"}, {**good, "index": "1"}, []):
        with pytest.raises(ParseError):
            _sequence_part(bad)
