"""Every PDF soundstage writes leaves with Content Credentials: storyboards, the look-book, breakdown
sheets and the disclosure report, signed by the production through ``documents.publish_pdf``.

Real workspace, real ReportLab renderers, real c2pa signing and reading; the adversary edits the
signed PDF, appends an incremental update to it, or signs one with another production's CA."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from soundstage.errors import SpecError, WorkspaceError
from soundstage.safeguards.keys import create_production_ca, load_signer
from soundstage.safeguards.provenance import IPTC, CredentialState, read_credentials, sign_file
from soundstage.services import documents
from soundstage.services.documents import DocumentFrame, publish_pdf, sidecar_path

SRC = Path(__file__).resolve().parents[2] / "src" / "soundstage"
SAMPLE = SRC / "samples" / "the_last_take.fountain"


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    from soundstage.services.script_service import import_script
    from soundstage.services.workspace import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("documents") / "production", "The Last Take")
    import_script(ws, SAMPLE, actor="Priya Shah")
    try:
        yield ws
    finally:
        ws.close()


def anchors(ws) -> list[bytes]:
    return [(ws.settings.keys_dir / "ca.pem").read_bytes()]


def simple_pdf(path: Path, text: str = "call sheet, day 3") -> int:
    from reportlab.pdfgen.canvas import Canvas

    c = Canvas(str(path), invariant=1, pageCompression=0)
    c.drawString(72, 720, text)
    c.showPage()
    c.drawString(72, 720, "page two")
    c.showPage()
    c.save()
    return 2


# ----------------------------------------------------------------------------- reports

def test_breakdown_sheets_are_a_procedural_document_signed_by_the_production(production, tmp_path):
    from soundstage.services.ledger import audit_head
    from soundstage.services.script_service import write_reports

    ws = production
    before = audit_head(ws)
    [pdf] = write_reports(ws, tmp_path / "reports", ["sheets"], ["pdf"], actor="Priya Shah")
    creds = read_credentials(pdf, trust_anchors=anchors(ws))
    assert creds.state is CredentialState.TRUSTED, creds.status_codes
    assert creds.actions[0] == "c2pa.created" and creds.digital_source_types == (IPTC + "algorithmicMedia",)
    assert creds.store["manifests"][creds.active_manifest]["title"] == "The Last Take - breakdown sheets"
    record = creds.soundstage
    assert record["production_id"] == ws.production_id and record["document"] == "breakdown_sheets"
    assert record["operation"] == "procedural" and record["audit_head"] == {"seq": before["seq"],
                                                                           "hash": before["hash"]}
    assert not creds.ingredients and "The Last Take" in (creds.signer_issuer or "")
    # still the renderer's PDF: the text is there, nothing unsigned was left beside it
    assert b"BREAKDOWN" in pdf.read_bytes().upper()
    assert sorted(p.name for p in pdf.parent.iterdir()) == ["breakdown_sheets.pdf"]


def test_the_disclosure_pdf_is_signed_and_the_other_formats_keep_their_order(production, tmp_path):
    from soundstage.services.disclosure_service import write_disclosure

    ws = production
    paths = write_disclosure(ws, tmp_path / "disclosure", ["html", "pdf", "json"], actor="Tom Reed")
    assert [p.name for p in paths] == ["disclosure.html", "disclosure.pdf", "disclosure.json", "credits_notice.txt"]
    creds = read_credentials(paths[1], trust_anchors=anchors(ws))
    assert creds.state is CredentialState.TRUSTED and creds.soundstage["document"] == "disclosure"
    for other in (paths[0], paths[2]):
        assert not other.read_bytes().startswith(b"%PDF")
    with pytest.raises(SpecError) as err:
        write_disclosure(ws, tmp_path / "bad", ["json", "docx"], actor="Tom Reed")
    assert err.value.field == "formats[1]" and not (tmp_path / "bad").exists()


@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="pdfinfo not installed (Debian poppler-utils)")
def test_a_signed_pdf_is_still_a_pdf_with_every_page(production, tmp_path):
    ws = production
    signed = publish_pdf(ws, tmp_path / "call_sheet.pdf", simple_pdf, title="Call sheet", document="call_sheet")
    assert signed.rendered == 2 and signed.sidecar is None and signed.operation == "procedural"
    info = subprocess.run(["pdfinfo", str(signed.path)], capture_output=True, text=True, check=True).stdout
    assert "Pages:           2" in info
    text = subprocess.run(["pdftotext", str(signed.path), "-"], capture_output=True, text=True, check=True).stdout
    assert "call sheet, day 3" in text and "page two" in text
    assert read_credentials(signed.path, trust_anchors=anchors(ws)).active_manifest == signed.manifest_label


# ----------------------------------------------------------------------------- the adversary

def test_a_pdf_edited_after_signing_reads_invalid(production, tmp_path):
    ws = production
    signed = publish_pdf(ws, tmp_path / "sheet.pdf", simple_pdf, title="Call sheet", document="call_sheet")
    data = signed.path.read_bytes()
    assert data.count(b"call sheet, day 3") == 1
    edited = tmp_path / "edited.pdf"
    edited.write_bytes(data.replace(b"call sheet, day 3", b"call sheet, day 4"))
    creds = read_credentials(edited, trust_anchors=anchors(ws))
    assert creds.state is CredentialState.INVALID and "assertion.dataHash.mismatch" in creds.failure_codes


def test_an_incremental_update_appended_after_signing_reads_invalid(production, tmp_path):
    """How PDF editors save: new objects and a new xref after %%EOF. The signed bytes are untouched."""
    ws = production
    signed = publish_pdf(ws, tmp_path / "sheet.pdf", simple_pdf, title="Call sheet", document="call_sheet")
    updated = tmp_path / "updated.pdf"
    updated.write_bytes(signed.path.read_bytes() + b"\n99 0 obj\n(annotation added later)\nendobj\n%%EOF\n")
    creds = read_credentials(updated, trust_anchors=anchors(ws))
    assert creds.state is CredentialState.INVALID and "assertion.dataHash.mismatch" in creds.failure_codes


def test_a_pdf_signed_by_another_production_is_not_trusted_here(production, tmp_path):
    ws = production
    from soundstage.safeguards.provenance import ManifestSpec, Operation, SoftwareAgent

    other = create_production_ca(tmp_path / "other_keys", "Not The Last Take", None)
    unsigned = tmp_path / "unsigned.pdf"
    simple_pdf(unsigned)
    forged = tmp_path / "forged.pdf"
    sign_file(unsigned, forged, ManifestSpec(Operation.PROCEDURAL, "The Last Take - storyboard",
                                             SoftwareAgent("soundstage", "0")), load_signer(other.directory, None))
    creds = read_credentials(forged, trust_anchors=anchors(ws))
    assert creds.state is not CredentialState.TRUSTED
    assert "signingCredential.untrusted" in creds.status_codes


# ----------------------------------------------------------------------------- publish_pdf itself

def test_a_failing_renderer_leaves_the_previous_pdf_and_no_debris(production, tmp_path):
    ws = production
    target = tmp_path / "out" / "storyboard.pdf"
    first = publish_pdf(ws, target, simple_pdf, title="Board", document="storyboard")
    before = target.read_bytes()

    def broken(path: Path) -> int:
        path.write_bytes(b"%PDF-1.4 half a page")
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError, match="renderer crashed"):
        publish_pdf(ws, target, broken, title="Board", document="storyboard")
    with pytest.raises(WorkspaceError, match="wrote no PDF"):
        publish_pdf(ws, target, lambda path: None, title="Board", document="storyboard")
    assert target.read_bytes() == before and first.sha256
    assert sorted(p.name for p in target.parent.iterdir()) == ["storyboard.pdf"]


def test_a_stale_sidecar_beside_an_embedded_pdf_is_removed(production, tmp_path):
    ws = production
    target = tmp_path / "storyboard.pdf"
    sidecar_path(target).write_bytes(b"a manifest store describing other bytes")
    publish_pdf(ws, target, simple_pdf, title="Board", document="storyboard")
    assert not sidecar_path(target).exists()


def test_the_sidecar_switch_leaves_the_pdf_bytes_alone(production, tmp_path, monkeypatch):
    ws = production
    monkeypatch.setattr(documents, "PDF_BINDING", "sidecar")
    reference = tmp_path / "reference.pdf"
    simple_pdf(reference)
    signed = publish_pdf(ws, tmp_path / "sheet.pdf", simple_pdf, title="Call sheet", document="call_sheet")
    assert signed.sidecar == sidecar_path(signed.path) and signed.sidecar.is_file()
    assert signed.path.read_bytes() == reference.read_bytes()  # ReportLab's invariant mode: same bytes
    assert read_credentials(signed.path).state is CredentialState.ABSENT
    creds = read_credentials(signed.path, trust_anchors=anchors(ws), sidecar=signed.sidecar.read_bytes())
    assert creds.state is CredentialState.TRUSTED and creds.soundstage["document"] == "call_sheet"
    edited = tmp_path / "edited.pdf"
    edited.write_bytes(signed.path.read_bytes().replace(b"day 3", b"day 4"))
    assert read_credentials(edited, trust_anchors=anchors(ws),
                            sidecar=signed.sidecar.read_bytes()).state is CredentialState.INVALID


# ----------------------------------------------------------------------------- the call sites

@pytest.mark.slow
def test_storyboard_sheets_of_rendered_frames_are_procedural_documents(production):
    from soundstage.services import boards_service

    ws = production
    result = boards_service.board(ws, scenes=["1"], renderer_model_id=boards_service.CARD_MODEL, actor="Priya Shah",
                          animatic=False)
    panels = [b.asset_id for b in result.shots]
    for pdf in [*result.scene_pdfs, result.script_pdf]:
        creds = read_credentials(pdf, trust_anchors=anchors(ws))
        assert creds.state is CredentialState.TRUSTED, (pdf.name, creds.status_codes)
        assert creds.actions[0] == "c2pa.created"
        assert creds.digital_source_types == (IPTC + "algorithmicMedia",)
        assert creds.soundstage["document"] == "storyboard" and creds.soundstage["frames"] == panels
        assert not creds.ingredients  # procedural frames are listed in our record, not embedded
    assert not [p for p in result.script_pdf.parent.iterdir() if p.name.startswith(".")]


def _signed_frame(ws, path: Path, source: str, operation) -> Path:
    """A still signed by the production the way the guard signs one (a real manifest, real chain)."""
    import numpy as np
    from PIL import Image

    from soundstage.safeguards.keys import load_production_signer
    from soundstage.safeguards.provenance import ManifestSpec, ModelInfo, SoftwareAgent

    raw = path.with_suffix(".raw.png")
    Image.fromarray(np.random.default_rng(len(source)).integers(0, 255, (72, 128, 3), dtype=np.uint8)).save(raw)
    model = ModelInfo("tiny-sd", "0", "cd" * 32, "Apache-2.0") if source == "trainedAlgorithmicMedia" else None
    spec = ManifestSpec(operation, path.stem, SoftwareAgent("test-renderer", "1"), model=model)
    sign_file(raw, path, spec, load_production_signer(ws.settings.keys_dir))
    return path


def test_a_document_showing_frames_made_with_a_trained_model_is_a_composite_of_them(production, tmp_path):
    """c2pa-js's "made with AI" rule: trained or composite-with-trained in the active manifest's actions."""
    from soundstage.safeguards.provenance import AI_SOURCE_TYPES, Operation

    ws = production
    ai = _signed_frame(ws, tmp_path / "frame_ai.png", "trainedAlgorithmicMedia", Operation.GENERATED)
    card = _signed_frame(ws, tmp_path / "frame_card.png", "algorithmicMedia", Operation.PROCEDURAL)
    frames = [DocumentFrame("a1", ai, "1-A", IPTC + "trainedAlgorithmicMedia"),
              DocumentFrame("a2", card, "1-B", IPTC + "algorithmicMedia"),
              DocumentFrame("a3", card, "1-C", None, signed=False),
              DocumentFrame("a1", ai, "1-A shown again", IPTC + "trainedAlgorithmicMedia")]  # one ingredient
    signed = publish_pdf(ws, tmp_path / "board.pdf", simple_pdf, title="Board", document="storyboard",
                         frames=frames)
    creds = read_credentials(signed.path, trust_anchors=anchors(ws))
    assert signed.operation == "composite" and creds.state is CredentialState.TRUSTED, creds.status_codes
    assert creds.actions[:2] == ("c2pa.created", "c2pa.placed")
    assert set(creds.digital_source_types) & AI_SOURCE_TYPES
    assert creds.digital_source_types[0] == IPTC + "compositeWithTrainedAlgorithmicMedia"
    # the signed frames are componentOf ingredients carrying their own manifests; the unsigned one is not
    parts = [i for i in creds.ingredients if i.relationship == "componentOf"]
    assert [p.title for p in parts] == ["1-A (a1)", "1-B (a2)"] and all(p.has_manifest for p in parts)
    assert creds.soundstage["frames"] == ["a1", "a2", "a3"]


@pytest.mark.slow
def test_a_look_book_of_generated_frames_is_a_composite_through_the_pipeline(tmp_path):
    """The real path: a tiny (random-weight) Stable Diffusion registered as a trained model renders the
    look-book's frames through the guard; the book then says so and carries them as components."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    from soundstage.domain.safeguards import ModelCard
    from soundstage.generate.backends.diffusers_local import weights_digest
    from soundstage.services import lookbook_service, script_service
    from soundstage.services import models
    from soundstage.services.workspace import init_workspace
    from soundstage.testing.tiny_diffusers import build_tiny_sd

    torch.set_num_threads(1)
    weights = build_tiny_sd(tmp_path / "tiny-sd")
    ws = init_workspace(tmp_path / "production", "The Last Take")
    try:
        script_service.import_script(ws, SAMPLE, actor="Priya Shah")
        models.register_model(ws, ModelCard(id="local.tiny-sd", name="tiny SD (random test weights)", version="0",
                                        weights_sha256=weights_digest(weights), training_data="owned",
                                        evidence="randomly initialised test weights", trained_model=True,
                                        runs_in_production_env=True, licence="Apache-2.0", stores_inputs=False,
                                        trains_on_inputs=False),
                          backend="diffusers", actor="Priya Shah",
                          config={"path": str(weights), "weights_sha256": weights_digest(weights)})
        result = lookbook_service.lookbook(ws, renderer_model_id="local.tiny-sd", characters=["MAYA"], locations=[],
                                         frames=2, size=(128, 128), steps=2, actor="Priya Shah")
        assert len(result.assets) == 2
        creds = read_credentials(result.pdf, trust_anchors=anchors(ws))
        assert creds.state is CredentialState.TRUSTED, creds.status_codes
        assert creds.actions[:2] == ("c2pa.created", "c2pa.placed")
        assert creds.digital_source_types[0] == IPTC + "compositeWithTrainedAlgorithmicMedia"
        parts = [i for i in creds.ingredients if i.relationship == "componentOf"]
        assert len(parts) == 2 and all(p.has_manifest for p in parts)
        assert creds.soundstage["document"] == "lookbook" and creds.soundstage["frames"] == result.assets
    finally:
        ws.close()


def test_a_document_of_procedural_frames_only_is_procedural(production, tmp_path):
    from soundstage.safeguards.provenance import Operation

    ws = production
    card = _signed_frame(ws, tmp_path / "frame_card.png", "algorithmicMedia", Operation.PROCEDURAL)
    spec = documents.document_spec(ws, title="Board", document="storyboard",
                                   frames=[DocumentFrame("a2", card, "1-B", IPTC + "algorithmicMedia")])
    assert spec.operation is Operation.PROCEDURAL and not spec.components


# ----------------------------------------------------------------------------- one way out

PDF_MAKERS = {"Canvas", "SimpleDocTemplate", "BaseDocTemplate"}


def _pdf_writers() -> dict[str, Path]:
    """Functions in src/ that make a ReportLab document (testing/ aside: the demo's stand-in for a
    consent form signed outside soundstage)."""
    writers: dict[str, Path] = {}
    for path in SRC.rglob("*.py"):
        if "testing" in path.relative_to(SRC).parts:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call):
                    name = inner.func.attr if isinstance(inner.func, ast.Attribute) else getattr(inner.func, "id", "")
                    if name in PDF_MAKERS:
                        writers[node.name] = path
    return writers


#: a writer reached through a table of formats: its callers in services pass every format but PDF
#: and publish the PDF themselves (test_the_disclosure_pdf_is_signed... checks that at run time)
DISPATCHERS = {"render_disclosure": "render_pdf"}


def test_every_pdf_soundstage_writes_goes_through_publish_pdf():
    writers = _pdf_writers()
    assert {"write_storyboard_pdf", "write_lookbook_pdf", "breakdown_sheets_pdf", "render_pdf"} <= set(writers)
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if "testing" in rel.parts:
            continue
        tree = ast.parse(path.read_text())
        allowed: set[int] = set()
        for node in ast.walk(tree):  # anything inside publish_pdf(...)'s arguments is published
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "publish_pdf":
                allowed.update(id(n) for arg in [*node.args, *(k.value for k in node.keywords)] for n in ast.walk(arg))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in DISPATCHERS:
                allowed.update(id(n) for n in ast.walk(node))
        for node in ast.walk(tree):
            name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
            if name in writers and id(node) not in allowed and not isinstance(getattr(node, "ctx", None), ast.Store):
                offenders.append(f"{rel}:{node.lineno} uses {name} outside publish_pdf")
    assert offenders == []


def test_the_binding_switch_is_one_constant():
    assert documents.PDF_BINDING == "embedded"
    assert os.fspath(sidecar_path(Path("a/b.pdf"))) == os.fspath(Path("a/b.pdf.c2pa"))
