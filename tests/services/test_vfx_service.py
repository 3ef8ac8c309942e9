"""vfx_service on real workspaces: whose reference image a job carries, and what its JobSpec says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import OperationKind
from soundstage.errors import InputError, NotFoundError
from soundstage.services import consent_service, people_service, talent_service
from soundstage.services import vfx_service
from soundstage.services.ledger import ingest_media
from soundstage.testing.identity import signer_for


def _face_png(path: Path) -> Path:
    import skimage.data

    Image.fromarray(skimage.data.astronaut()[20:300, 110:360]).save(path)
    return path


def _consent(ws, performer_id: str, tmp_path: Path) -> dict:
    document = tmp_path / "signed_consent.pdf"
    document.write_bytes(b"%PDF-1.4 signed digital alteration consent")
    return consent_service.grant_consent(ws, performer_id, document=document, kind="digital_alteration",
                            operations=["likeness_deage", "likeness_cosmetic"], scenes=["5"], max_alteration=0.5,
                            description="De-ageing in the 1994 flashback, scene 5 only, final cut",
                            signed_separately=True, representation="union", signer=signer_for(ws, "Lena Ortiz"))


@pytest.fixture
def cast(workspace, tmp_path):
    ws = workspace
    people_service.add_crew(ws, "Lena Ortiz", ["performer_rep"], actor="setup")
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"],
                            actor="setup")
    noel = talent_service.add_performer(ws, "Noel Park", union_status="sag-aftra", representatives=["Lena Ortiz"],
                            actor="setup")
    consent = _consent(ws, maya["id"], tmp_path)
    face = _face_png(tmp_path / "maya_ref.png")
    talent_service.enroll_reference(ws, maya["id"], face, actor="Lena Ortiz")
    plate_png = tmp_path / "plate.png"
    Image.fromarray(np.full((90, 160, 3), 120, np.uint8)).save(plate_png)
    plate = ingest_media(ws, plate_png, kind="plate", actor="setup", scene="5", shot="5A")
    return ws, maya, noel, consent, face, plate


def test_reference_paths_point_at_the_stored_enrolled_image(cast):
    ws, maya, noel, _consent_rec, face, _plate = cast
    refs = vfx_service.performer_reference_paths(ws, [maya["id"], noel["id"], "no-such-id"])
    assert list(refs) == [maya["id"]]  # no reference, unknown id: left out (the backend refuses those jobs)
    stored = Path(refs[maya["id"]])
    assert stored.is_file() and stored != face
    assert stored.read_bytes() == face.read_bytes()


def test_revoked_consent_drops_the_quarantined_reference(cast):
    ws, maya, _noel, consent, _face, _plate = cast
    consent_service.revoke_consent(ws, consent["id"], reason="performer withdrew", signer=signer_for(ws, "Lena Ortiz"))
    assert vfx_service.performer_reference_paths(ws, [maya["id"]]) == {}


def test_build_job_names_ids_and_declared_params_only(cast):
    ws, maya, _noel, _consent_rec, _face, plate = cast
    spec = vfx_service.build_vfx_job(ws, "deage", plate["id"], requested_by="Ken Ito", performers=["maya castell"],
                                     amount=0.3, scene="5", shot="5A", codec="prores")
    assert spec.operation is OperationKind.LIKENESS_DEAGE and spec.model_id == vfx_service.DEFAULT_VFX_MODEL
    assert spec.performers == (maya["id"],)  # resolved by name, case-insensitively
    assert spec.inputs == (plate["id"],) and spec.alteration_amount == 0.3 and spec.production_id == ws.production_id
    # JobSpec.2: nothing server-side travels in the spec (no paths, no work dir, no cluster, no refs)
    assert dict(spec.params) == {"codec": "prores"}


def test_performer_without_reference_is_named_by_id_only(cast):
    ws, _maya, noel, _consent_rec, _face, plate = cast
    spec = vfx_service.build_vfx_job(ws, "cosmetic", plate["id"], requested_by="Ken Ito", performers=[noel["id"]])
    assert spec.performers == (noel["id"],) and dict(spec.params) == {"codec": "h264"}


def test_unknown_performer_and_operation_are_refused(cast):
    ws, _maya, _noel, _consent_rec, _face, plate = cast
    with pytest.raises(NotFoundError, match="no performer 'Nobody'"):
        vfx_service.build_vfx_job(ws, "deage", plate["id"], requested_by="Ken Ito", performers=["Nobody"])
    with pytest.raises(NotFoundError):  # a crew member is not a performer
        vfx_service.build_vfx_job(ws, "deage", plate["id"], requested_by="Ken Ito", performers=["Lena Ortiz"])
    with pytest.raises(InputError, match="unknown VFX operation"):
        vfx_service.build_vfx_job(ws, "melt", plate["id"], requested_by="Ken Ito")
