"""Sidecars bound to the real bytes (issue 13 item 2): a file's `.c2pa` validates with the file in any
C2PA reader, a sequence's names the frame that changed, and sidecars written before still verify.

Signed with a real production CA (keys.create_production_ca); read back by soundstage, by c2pa-rs
directly (the standard reader API: asset stream + manifest bytes) and, when installed, by c2pa-wasm.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from soundstage.errors import InputError, NotFoundError, ParseError, SpecError, UnsafeInputError
from soundstage.safeguards.provenance import (
    FRAME_INDEX_ASSERTION,
    SIDECAR_MAX_BYTES,
    CredentialState,
    IngredientSource,
    ManifestSpec,
    Operation,
    SoftwareAgent,
    SoundstageRecord,
    read_sidecar,
    read_with_sidecar,
    sidecar_candidates,
    sign_sequence,
    sign_sidecar,
    verify_sequence,
)
from soundstage.safeguards.provenance.sidecars import FRAME_INDEX_V1, FRAME_INDEX_V2

LEGACY = Path(__file__).resolve().parents[1] / "data" / "legacy_frame_index"
RECORD = SoundstageRecord("prod-night-shoot", "job-42", "00000000000000a7", ())


def spec(title: str = "scene12_shot3_depth.png", **over) -> ManifestSpec:
    return ManifestSpec(Operation.PROCEDURAL, title, SoftwareAgent("blender", "5.0.1"), record=RECORD, **over)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- files of every kind

def make_png8(path: Path, seed: int = 1) -> Path:
    Image.fromarray(_rng(seed).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(path)
    return path


def make_depth_png16(path: Path, seed: int = 2) -> Path:
    """What Blender's depth pass is: a 16-bit single-channel PNG."""
    Image.fromarray(_rng(seed).integers(0, 65535, (24, 32), dtype=np.uint16)).save(path)
    with Image.open(path) as check:
        assert check.mode in ("I;16", "I")
    return path


def make_jpeg(path: Path, seed: int = 3) -> Path:
    Image.fromarray(_rng(seed).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(path, quality=90)
    return path


def make_tiff(path: Path, seed: int = 4) -> Path:
    Image.fromarray(_rng(seed).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(path)
    return path


def make_wav(path: Path, seed: int = 5) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(_rng(seed).integers(0, 255, 4000, dtype=np.uint8).tobytes())
    return path


def make_video(path: Path, seed: int = 6) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(24))
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(4):
            frame = av.VideoFrame.from_ndarray(_rng(seed + index).integers(0, 255, (64, 64, 3), dtype=np.uint8),
                                               format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_exr(path: Path, seed: int = 7) -> Path:
    path.write_bytes(b"\x76\x2f\x31\x01" + _rng(seed).integers(0, 255, 300, dtype=np.uint8).tobytes())
    return path


def make_gltf(path: Path, seed: int = 8) -> Path:
    path.write_text(json.dumps({"asset": {"version": "2.0"}, "nodes": [{"name": f"cam{seed}"}]}))
    return path


def make_blend(path: Path, seed: int = 9) -> Path:
    path.write_bytes(b"BLENDER-v500" + _rng(seed).integers(0, 255, 500, dtype=np.uint8).tobytes())
    return path


def make_pdf(path: Path, seed: int = 10) -> Path:
    Image.fromarray(_rng(seed).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(path)
    return path


#: kind -> (maker, suffix, the hard binding c2pa-rs makes, the MIME a standard reader is given)
KINDS = {
    "png": (make_png8, ".png", "c2pa.hash.data", "image/png"),
    "depth-png16": (make_depth_png16, ".png", "c2pa.hash.data", "image/png"),
    "jpeg": (make_jpeg, ".jpg", "c2pa.hash.data", "image/jpeg"),
    "tiff": (make_tiff, ".tif", "c2pa.hash.data", "image/tiff"),
    "wav": (make_wav, ".wav", "c2pa.hash.data", "audio/wav"),
    "mp4": (make_video, ".mp4", "c2pa.hash.bmff", "video/mp4"),
    "mov": (make_video, ".mov", "c2pa.hash.bmff", "video/quicktime"),
    "exr": (make_exr, ".exr", "c2pa.hash.data", "image/x-exr"),
    "gltf": (make_gltf, ".gltf", "c2pa.hash.data", "model/gltf+json"),
    "blend": (make_blend, ".blend", "c2pa.hash.data", "application/x-blender"),
    "pdf": (make_pdf, ".pdf", "c2pa.hash.data", "application/pdf"),
}


def standard_reader(path: Path, mime: str, sidecar: Path, anchors: bytes | None = None) -> dict:
    """c2pa-rs's own reader, as any tool built on it reads an asset with an external manifest."""
    import c2pa

    settings = {"trust": {"user_anchors": anchors.decode()}, "verify": {"verify_trust": True}} if anchors else None
    kwargs = {"context": c2pa.Context.from_dict(settings)} if settings else {}
    with open(path, "rb") as stream, c2pa.Reader(mime, stream, sidecar.read_bytes(), **kwargs) as reader:
        return json.loads(reader.json())


def _codes(store: dict) -> list[str]:
    return [str(item.get("code")) for item in store.get("validation_status") or []]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_files_sidecar_binds_the_files_own_bytes(tmp_path, credentials, ca_pem, kind):
    maker, suffix, binding, mime = KINDS[kind]
    src = maker(tmp_path / f"asset{suffix}")
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    result = sign_sidecar(src, tmp_path / f"asset{suffix}.c2pa", spec(), credentials)
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before == result.sha256  # the file is not touched
    assert result.path.stat().st_size == result.manifest_bytes and result.manifest_label.startswith("urn:c2pa:")

    ours = read_with_sidecar(src, result.path, trust_anchors=[ca_pem])
    assert ours.state is CredentialState.TRUSTED, ours.failure_codes
    assert ours.soundstage["asset_id"] == RECORD.asset_id and ours.actions[0] == "c2pa.created"

    # the standard reader, told the file's real type: Trusted with our CA, Valid without
    store = standard_reader(src, mime, result.path, anchors=ca_pem)
    assert store["validation_state"] == "Trusted" and _codes(store) == []
    success = {i["code"] for i in store["validation_results"]["activeManifest"]["success"]}
    assert ("assertion.bmffHash.match" if binding == "c2pa.hash.bmff" else "assertion.dataHash.match") in success
    assert standard_reader(src, mime, result.path)["validation_state"] == "Valid"

    alone = read_sidecar(result.path, trust_anchors=[ca_pem])
    assert alone.binding.startswith(binding) and alone.credentials.state is CredentialState.TRUSTED
    # a whole-file data hash binds exactly the file's SHA-256; a BMFF hash has its own rules
    assert alone.bound_sha256 == (before if binding == "c2pa.hash.data" else None)


@pytest.mark.parametrize("kind", ["png", "mp4", "exr"])
def test_the_sidecar_of_file_a_beside_file_b_is_invalid(tmp_path, credentials, ca_pem, kind):
    maker, suffix, binding, mime = KINDS[kind]
    a, b = maker(tmp_path / f"a{suffix}", seed=21), maker(tmp_path / f"b{suffix}", seed=22)
    sidecar = sign_sidecar(a, tmp_path / f"a{suffix}.c2pa", spec(), credentials).path
    moved = tmp_path / f"b{suffix}.c2pa"
    shutil.copyfile(sidecar, moved)
    code = "assertion.bmffHash.mismatch" if binding == "c2pa.hash.bmff" else "assertion.dataHash.mismatch"

    reading = read_with_sidecar(b, moved, trust_anchors=[ca_pem])
    assert reading.state is CredentialState.INVALID and code in reading.failure_codes
    assert code in _codes(standard_reader(b, mime, moved, anchors=ca_pem))
    # one byte of the right file changed: the same
    data = bytearray(a.read_bytes())
    data[len(data) // 2] ^= 0x01
    a.write_bytes(bytes(data))
    assert read_with_sidecar(a, sidecar, trust_anchors=[ca_pem]).state is CredentialState.INVALID


def _flip_signature_byte(sidecar: Path) -> None:
    """The COSE signature is the last box of the store: change one byte of it."""
    data = bytearray(sidecar.read_bytes())
    data[-40] ^= 0xFF
    sidecar.write_bytes(bytes(data))


def _swap_asset_id(sidecar: Path, old: str, new: str) -> None:
    """Rewrite the asset id inside our record assertion, same length: only the hashes can tell."""
    data = sidecar.read_bytes()
    assert data.count(old.encode()) == 1 and len(old) == len(new)
    sidecar.write_bytes(data.replace(old.encode(), new.encode()))


def test_an_edited_sidecar_is_invalid_with_or_without_its_file(tmp_path, credentials, ca_pem):
    src = make_depth_png16(tmp_path / "depth.png")
    signature = sign_sidecar(src, tmp_path / "depth.png.c2pa", spec(), credentials).path
    record = tmp_path / "record.c2pa"
    shutil.copyfile(signature, record)
    _flip_signature_byte(signature)
    _swap_asset_id(record, RECORD.asset_id, "00000000000000b8")

    for sidecar, code in ((signature, "claimSignature.mismatch"), (record, "assertion.hashedURI.mismatch")):
        with_file = read_with_sidecar(src, sidecar, trust_anchors=[ca_pem])
        assert with_file.state is CredentialState.INVALID and code in with_file.failure_codes
        alone = read_sidecar(sidecar, trust_anchors=[ca_pem])
        assert alone.credentials.state is CredentialState.INVALID and code in alone.credentials.failure_codes
        assert code in _codes(standard_reader(src, "image/png", sidecar))


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"),
    (b"hello world, not a manifest store at all", "not a readable C2PA sidecar"),
    (b"\x00\x00\x00\x10jumbnot really", "not a readable C2PA sidecar"),
    (None, "not a readable C2PA sidecar"),  # a real sidecar cut in half
])
def test_a_truncated_or_garbage_sidecar_is_a_one_line_parse_error(tmp_path, credentials, content, message):
    src = make_png8(tmp_path / "a.png")
    sidecar = tmp_path / "a.png.c2pa"
    if content is None:
        sign_sidecar(src, sidecar, spec(), credentials)
        sidecar.write_bytes(sidecar.read_bytes()[: sidecar.stat().st_size // 2])
    else:
        sidecar.write_bytes(content)
    frames = [make_exr(tmp_path / "plate.0001.exr")]
    for attempt in (lambda: read_with_sidecar(src, sidecar), lambda: read_sidecar(sidecar),
                    lambda: verify_sequence(frames, sidecar)):
        with pytest.raises(ParseError, match=message) as refused:
            attempt()
        line = refused.value.one_line()
        assert "\n" not in line and "Traceback" not in line and str(tmp_path) not in line


def test_an_oversized_sidecar_is_refused_before_it_is_read(tmp_path):
    src = make_png8(tmp_path / "a.png")
    huge = tmp_path / "a.png.c2pa"
    with open(huge, "wb") as out:  # sparse: no disk used
        out.truncate(SIDECAR_MAX_BYTES + 1)
    for attempt in (lambda: read_with_sidecar(src, huge), lambda: read_sidecar(huge),
                    lambda: verify_sequence([src], huge)):
        with pytest.raises(UnsafeInputError, match="larger than any sidecar"):
            attempt()


def test_sign_sidecar_refuses_bad_input_and_writes_nothing(tmp_path, credentials):
    src = make_png8(tmp_path / "a.png")
    before = src.read_bytes()
    with pytest.raises(NotFoundError):
        sign_sidecar(tmp_path / "missing.png", tmp_path / "missing.png.c2pa", spec(), credentials)
    with pytest.raises(SpecError, match="over the file"):
        sign_sidecar(src, src, spec(), credentials)
    empty = tmp_path / "empty.exr"
    empty.write_bytes(b"")
    with pytest.raises(ParseError, match="empty"):
        sign_sidecar(empty, tmp_path / "empty.exr.c2pa", spec(), credentials)
    with pytest.raises(InputError):
        sign_sidecar(src, tmp_path / "x.c2pa", spec(), "not a signer")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "empty.exr"]
    assert src.read_bytes() == before


def test_sidecar_names_verify_looks_for():
    assert sidecar_candidates(Path("/x/shot.png")) == (Path("/x/shot.png.c2pa"), Path("/x/shot.c2pa"))
    assert sidecar_candidates(Path("/x/README")) == (Path("/x/README.c2pa"),)


def test_ingredients_go_into_a_files_sidecar_too(tmp_path, credentials, ca_pem):
    plate = make_jpeg(tmp_path / "plate.jpg")
    src = make_exr(tmp_path / "matte.exr")
    edited = ManifestSpec(Operation.EDIT, "matte.exr", SoftwareAgent("opencv", "4.11"), record=RECORD,
                          parent=IngredientSource("plate.jpg", path=plate))
    result = sign_sidecar(src, tmp_path / "matte.c2pa", edited, credentials)
    reading = read_with_sidecar(src, result.path, trust_anchors=[ca_pem])
    assert reading.state is CredentialState.TRUSTED
    assert [(i.title, i.relationship) for i in reading.ingredients] == [("plate.jpg", "parentOf")]


# --------------------------------------------------------------------------- sequences

def _frames(folder: Path, count: int) -> list[Path]:
    folder.mkdir(exist_ok=True)
    return [make_exr(folder / f"plate.{index + 1:04d}.exr", seed=100 + index) for index in range(count)]


def test_a_sequence_sidecar_is_bound_to_its_frame_list_and_names_frames(tmp_path, credentials, ca_pem):
    frames = _frames(tmp_path / "seq", 6)
    result = sign_sequence(frames, tmp_path / "seq" / "plate.c2pa", spec("plate.####.exr"), credentials)
    listing = result.document
    assert listing == tmp_path / "seq" / "plate.sha256"
    lines = listing.read_text().splitlines()
    assert lines == [f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.name}" for f in frames]
    assert result.sha256 == hashlib.sha256(listing.read_bytes()).hexdigest()

    clean = verify_sequence(frames, result.path, trust_anchors=[ca_pem])
    assert clean.ok and clean.credentials.state is CredentialState.TRUSTED
    assert (clean.schema, clean.frames_signed) == (FRAME_INDEX_V2, 6)
    assert FRAME_INDEX_ASSERTION in clean.credentials.assertion_labels
    # frames handed over in another order are the same sequence
    assert verify_sequence(list(reversed(frames)), result.path, trust_anchors=[ca_pem]).ok

    # the frame list with its sidecar is an ordinary file + sidecar: any reader validates it
    assert read_with_sidecar(listing, result.path, trust_anchors=[ca_pem]).state is CredentialState.TRUSTED
    assert standard_reader(listing, "text/plain", result.path, anchors=ca_pem)["validation_state"] == "Trusted"

    frames[2].write_bytes(frames[2].read_bytes()[:-1] + b"\x00")  # replaced
    frames[4].unlink()  # removed
    extra = make_exr(tmp_path / "seq" / "plate.0007.exr", seed=7)  # added
    present = [f for f in frames if f.exists()] + [extra]
    checked = verify_sequence(present, result.path, trust_anchors=[ca_pem])
    assert not checked.ok and checked.index_authentic
    assert (checked.changed, checked.missing, checked.unexpected) == \
        (("plate.0003.exr",), ("plate.0005.exr",), ("plate.0007.exr",))
    assert checked.credentials.state is CredentialState.INVALID
    assert "assertion.dataHash.mismatch" in checked.credentials.failure_codes


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum not installed")
def test_sha256sum_checks_the_frames_against_the_signed_list(tmp_path, credentials):
    frames = _frames(tmp_path / "seq", 3)
    listing = sign_sequence(frames, tmp_path / "seq" / "plate.c2pa", spec("plate.####.exr"), credentials).document
    ok = subprocess.run(["sha256sum", "-c", listing.name], cwd=listing.parent, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    frames[1].write_bytes(b"replaced")
    bad = subprocess.run(["sha256sum", "-c", listing.name], cwd=listing.parent, capture_output=True, text=True)
    assert bad.returncode == 1 and "plate.0002.exr: FAILED" in bad.stdout


def test_a_sequence_sidecar_with_a_broken_signature_cannot_name_frames(tmp_path, credentials, ca_pem):
    frames = _frames(tmp_path / "seq", 3)
    sidecar = sign_sequence(frames, tmp_path / "seq" / "plate.c2pa", spec("plate.####.exr"), credentials).path
    _flip_signature_byte(sidecar)
    checked = verify_sequence(frames, sidecar, trust_anchors=[ca_pem])
    assert not checked.ok and not checked.index_authentic
    assert "claimSignature.mismatch" in checked.credentials.failure_codes


def test_sign_sequence_refuses_bad_frame_sets(tmp_path, credentials):
    frames = _frames(tmp_path / "seq", 2)
    with pytest.raises(SpecError, match="at least one frame"):
        sign_sequence([], tmp_path / "x.c2pa", spec(), credentials)
    with pytest.raises(SpecError, match="unique"):
        sign_sequence([frames[0], tmp_path / "seq" / ".." / "seq" / frames[0].name], tmp_path / "x.c2pa", spec(),
                      credentials)
    with pytest.raises(SpecError, match="overwrite a frame"):
        sign_sequence(frames, frames[0], spec(), credentials)
    assert not (tmp_path / "x.c2pa").exists() and not (tmp_path / "x.sha256").exists()


def test_a_files_sidecar_is_not_a_sequence_sidecar_and_back(tmp_path, credentials):
    frames = _frames(tmp_path / "seq", 2)
    file_sidecar = sign_sidecar(frames[0], tmp_path / "one.c2pa", spec(), credentials).path
    with pytest.raises(ParseError, match="not a sequence's sidecar"):
        verify_sequence(frames, file_sidecar)
    sequence_sidecar = sign_sequence(frames, tmp_path / "seq" / "plate.c2pa", spec(), credentials).path
    with pytest.raises(InputError, match="signs a sequence of 2 frames"):
        read_with_sidecar(frames[0], sequence_sidecar)


# --------------------------------------------------------------------------- sidecars already in users' stores

def test_legacy_file_sidecars_still_verify(tmp_path):
    """The guard's sidecars from before issue 13: a one-frame FrameIndex.1 bound to a JSON index."""
    anchors = [(LEGACY / "ca.pem").read_bytes()]
    depth, sidecar = LEGACY / "scene1_shot1_depth.png", LEGACY / "scene1_shot1_depth.png.c2pa"
    reading = read_with_sidecar(depth, sidecar, trust_anchors=anchors)
    assert reading.state is CredentialState.TRUSTED and reading.soundstage["asset_id"] == "00000000000000a1"
    renamed = shutil.copyfile(depth, tmp_path / "renamed.png")  # the binding is the bytes, not the name
    assert read_with_sidecar(renamed, sidecar, trust_anchors=anchors).state is CredentialState.TRUSTED
    data = bytearray(depth.read_bytes())
    data[-20] ^= 0x01
    (tmp_path / "changed.png").write_bytes(bytes(data))
    changed = read_with_sidecar(tmp_path / "changed.png", sidecar, trust_anchors=anchors)
    assert changed.state is CredentialState.INVALID and "assertion.dataHash.mismatch" in changed.failure_codes

    alone = read_sidecar(sidecar, trust_anchors=anchors)
    assert alone.credentials.state is CredentialState.TRUSTED and alone.frame_index.schema == FRAME_INDEX_V1
    assert alone.frame_index.frames[0].sha256 == hashlib.sha256(depth.read_bytes()).hexdigest()


def test_legacy_sequence_sidecars_still_verify_and_name_frames(tmp_path):
    anchors = [(LEGACY / "ca.pem").read_bytes()]
    frames = sorted(LEGACY.glob("plate.*.exr"))
    clean = verify_sequence(frames, LEGACY / "plate.c2pa", trust_anchors=anchors)
    assert clean.ok and clean.schema == FRAME_INDEX_V1 and clean.credentials.state is CredentialState.TRUSTED
    copies = [shutil.copyfile(f, tmp_path / f.name) for f in frames]
    copies[1].write_bytes(b"\x76\x2f\x31\x01 replaced")
    checked = verify_sequence(copies[1:], LEGACY / "plate.c2pa", trust_anchors=anchors)
    assert (checked.changed, checked.missing, checked.unexpected) == (("plate.0002.exr",), ("plate.0001.exr",), ())
    assert checked.credentials.state is CredentialState.INVALID
    with pytest.raises(InputError, match="signs a sequence of 3 frames"):
        read_with_sidecar(frames[0], LEGACY / "plate.c2pa")


# --------------------------------------------------------------------------- what c2pa-rs 0.91 can and cannot do

def test_c2pa_rs_cannot_validate_a_collection_hash(tmp_path, credentials):
    """DR008, measured: c2pa-rs 0.91 signs a claim whose hard binding is c2pa.hash.collection.data
    (in its own map form; the spec's array form is refused when read), but no verifying read of it
    succeeds: every reader call fails with NotSupported, whatever the asset. When this test fails,
    the library has learnt collection hashes: revisit DR008."""
    import c2pa

    from soundstage.safeguards.provenance import build_manifest

    frames = _frames(tmp_path / "seq", 2)
    manifest = build_manifest(spec("plate.####.exr"))
    uris = {f.name: {"hash": list(hashlib.sha256(f.read_bytes()).digest()), "size": f.stat().st_size}
            for f in frames}
    manifest["assertions"].append({"label": "c2pa.hash.collection.data", "data": {"alg": "sha256", "uris": uris}})
    with c2pa.Builder(manifest) as builder, credentials.signer() as signer:
        builder.set_no_embed()
        store = builder.sign(signer, "application/octet-stream", io.BytesIO(b""), io.BytesIO())
    unverified = c2pa.Context.from_dict({"verify": {"verify_after_reading": False}})
    with c2pa.Reader("application/c2pa", io.BytesIO(store), context=unverified) as reader:
        detailed = json.loads(reader.detailed_json())
    labels = set(detailed["manifests"][detailed["active_manifest"]]["assertion_store"])
    assert "c2pa.hash.collection.data" in labels and "c2pa.hash.data" not in labels  # it is the hard binding
    for mime, asset, data in (("application/c2pa", io.BytesIO(store), None),
                              ("application/octet-stream", io.BytesIO(b""), store),
                              ("image/x-exr", open(frames[0], "rb"), store)):
        with asset, pytest.raises(c2pa.C2paError, match="NotSupported|type is unsupported"):
            with c2pa.Reader(mime, asset, data) as reader:
                reader.json()


# --------------------------------------------------------------------------- an independent reader

def test_c2pa_wasm_reads_file_and_sequence_sidecars(tmp_path, credentials, ca_pem):
    from soundstage.testing import independent_reader as independent

    reason = independent.missing()
    if reason:
        pytest.skip(reason)
    depth = make_depth_png16(tmp_path / "depth.png")
    blend = make_blend(tmp_path / "scene.blend")
    other = make_png8(tmp_path / "other.png")
    depth_sidecar = sign_sidecar(depth, tmp_path / "depth.png.c2pa", spec(), credentials).path
    blend_sidecar = sign_sidecar(blend, tmp_path / "scene.c2pa", spec("scene.blend"), credentials).path
    frames = _frames(tmp_path / "seq", 3)
    sequence = sign_sequence(frames, tmp_path / "seq" / "plate.c2pa", spec("plate.####.exr"), credentials)
    items = [independent.SidecarItem(depth_sidecar, path=depth), independent.SidecarItem(blend_sidecar, path=blend),
             independent.SidecarItem(depth_sidecar, path=other),
             independent.SidecarItem(sequence.path, path=sequence.document, members=tuple(frames))]
    readings = independent.read_with_c2pa_wasm(items, trust_anchors=[ca_pem])
    ours = [read_with_sidecar(depth, depth_sidecar, trust_anchors=[ca_pem]),
            read_with_sidecar(blend, blend_sidecar, trust_anchors=[ca_pem]),
            read_with_sidecar(other, depth_sidecar, trust_anchors=[ca_pem]),
            verify_sequence(frames, sequence.path, trust_anchors=[ca_pem]).credentials]
    for wasm, mine in zip(readings, ours):
        assert wasm.state == mine.state.value, (wasm.path, wasm.failure_codes, mine.failure_codes)
        assert set(wasm.failure_codes) == set(mine.failure_codes)
    assert readings[2].failure_codes == ("assertion.dataHash.mismatch",)

    frames[0].write_bytes(b"\x76\x2f\x31\x01 replaced")
    again = independent.read_with_c2pa_wasm([independent.SidecarItem(sequence.path, path=sequence.document,
                                                                       members=tuple(frames))],
                                            trust_anchors=[ca_pem])[0]
    mine = verify_sequence(frames, sequence.path, trust_anchors=[ca_pem])
    assert again.binding.changed == mine.changed == ("plate.0001.exr",)
