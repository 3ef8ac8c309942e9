"""Performers a job involves without listing them (issue 16, DR019): the pure name matcher, then the
guard on a real ledger - names in any text field, enrolled faces in stored stills and clips."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import JobSpec, ModelCard, OperationKind
from soundstage.safeguards.involvement import (
    MIN_SINGLE_WORD,
    Involvement,
    NameIndex,
    RosterEntry,
    Sighting,
    names_in_job,
    normalise_words,
)

ROSTER = [RosterEntry("t-ana", "Ana Ruiz", ("Ana Ruiz", "La Ruiz", "Zendaya")),
          RosterEntry("t-al", "Al Bo", ("Al Bo", "Al")),
          RosterEntry("t-sasha", "Саша Белова", ("Саша Белова",))]
INDEX = NameIndex(ROSTER)


# ---------------------------------------------------------------------------------------- names

@pytest.mark.parametrize("text", [
    "Ana Ruiz walking in the rain",
    "ANA RUIZ, close-up",
    "ana ruiz",
    "Ana Ruiz's smile",                 # possessive
    "Ana Ruiz\u2019s smile",            # typographic apostrophe
    "Ana   Ruiz",                       # runs of spaces
    "Ana\nRuiz",                        # a line break
    "ana-ruiz as a pirate",             # hyphen
    "ana_ruiz",                         # underscore
    "(Ana Ruiz)",
    "\uff21\uff4e\uff41 \uff32\uff55\uff49\uff5a",  # full-width: NFKC
    "Ana Ru\u200biz",                   # zero-width space inside the name
    "Ana Ru\u00adiz",                   # soft hyphen
    "\u00c1na Ru\u00edz",               # accents
    "A\u0301na Ruiz",                   # combining accent
    "\u0410na Ruiz",                    # Cyrillic capital A
    "Ana Ruiz".replace("a", "\u0430"),  # Cyrillic small a
    "la ruiz on a balcony",             # stage name
    "ZENDAYA",                          # one-word alias of MIN_SINGLE_WORD letters or more
])
def test_every_spelling_of_a_name_is_caught(text):
    assert "t-ana" in INDEX.find(text), normalise_words(text)


@pytest.mark.parametrize("text", [
    "Anaruiz",                          # one word that contains the name
    "Ana Ruizberg",                     # the surname as part of a longer word
    "Banana Ruiz",                      # the first name inside a longer word
    "Ana and Ruiz",                     # the words, not the name
    "ruiz ana",                         # reversed
    "Zendayas",
])
def test_a_longer_word_or_other_words_are_not_the_name(text):
    assert INDEX.find(text) == set()


def test_a_short_single_word_alias_is_not_matched_alone_but_the_full_name_is():
    assert len("Al") < MIN_SINGLE_WORD
    assert INDEX.find("al fresco dinner") == set()
    assert INDEX.find("AL BO on stage") == {"t-al"}


def test_a_name_in_another_script_matches_itself_and_not_its_lookalike_latin_spelling_only():
    assert INDEX.find("саша белова у окна") == {"t-sasha"}
    assert INDEX.find("САША БЕЛОВА") == {"t-sasha"}


def test_names_in_any_text_parameter_nested_or_as_a_key():
    where = names_in_job("a quiet street", {
        "negative_prompt": "ana ruiz", "steps": 20,
        "loras": [{"caption": "x"}, {"caption": "Al Bo's stunt double"}],
        "Zendaya": 1,
    }, INDEX)
    assert where == {"t-ana": ("params.negative_prompt", "params"), "t-al": ("params.loras[1].caption",)}
    assert names_in_job("nobody here", {"seed": 4}, INDEX) == {}
    assert names_in_job("Ana Ruiz", {}, NameIndex([])) == {}


def test_involvement_leaves_out_the_listed_performers():
    seen = (Sighting("00000000000000a1", "reference", 0.2),)
    inv = Involvement(named={"t-ana": ("prompt",), "t-al": ("prompt",)}, shown={"t-ana": seen})
    assert inv.named_unlisted(["t-ana"]) == {"t-al": ("prompt",)}
    assert inv.shown_unlisted(["t-ana"]) == {}
    assert inv.to_dict()["shown"]["t-ana"][0] == {"input": "00000000000000a1", "kind": "reference", "distance": 0.2}


# ---------------------------------------------------------------------------------------- the guard

def _astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def _hopper() -> np.ndarray:
    import matplotlib.cbook as cbook

    return np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))


def _wide(face: np.ndarray) -> np.ndarray:
    """The face small, off-centre in a 1280x720 frame: what a still from a wide shot looks like."""
    import cv2

    frame = np.full((720, 1280, 3), 70, np.uint8)
    small = cv2.resize(face[:, ::-1], None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA)
    frame[200:200 + small.shape[0], 800:800 + small.shape[1]] = small
    return frame


@pytest.fixture
def production(sqlite_workspace, tmp_path):
    """Maya Castell, consented for de-ageing, with her reference face enrolled (the astronaut photo);
    Noel Vance, registered, no consent; a vendor image API that is never reached (every job here is
    decided before anything runs)."""
    from soundstage.services import consent_service, models, people_service, talent_service
    from soundstage.testing.identity import signer_for

    ws = sqlite_workspace
    people_service.add_crew(ws, "Ken Ito", ["vfx_supervisor"], actor="setup")
    people_service.add_crew(ws, "Lena Ortiz", ["performer_rep"], actor="setup")
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"],
                            actor="setup")
    noel = talent_service.add_performer(ws, "Noel Vance", actor="setup")
    document = tmp_path / "signed.pdf"
    document.write_bytes(b"%PDF-1.4 signed digital alteration consent, Maya Castell, scene 5")
    consent_service.grant_consent(ws, maya["id"], document=document, kind="digital_alteration",
                     operations=["likeness_deage", "likeness_cosmetic"],
                     description="De-ageing of Maya Castell by about 30 years in the 1994 flashback, scene 5 only, "
                                 "for the final cut of The Last Take",
                     scenes=["5"], max_alteration=0.5, signed_separately=True, representation="union",
                     signer=signer_for(ws, "Lena Ortiz"))
    face = tmp_path / "maya_reference.png"
    Image.fromarray(_astronaut()).save(face)
    talent_service.enroll_reference(ws, "Maya Castell", face, actor="Lena Ortiz")
    models.register_model(ws, ModelCard(id="vendor.images", name="Vendor Images", version="1", licence="commercial",
                                    training_data="licensed", evidence="attestation", stores_inputs=False,
                                    trains_on_inputs=False, runs_in_production_env=True, trained_model=True),
                      backend="openai-images", actor="setup",
                      config={"base_url": "http://127.0.0.1:9/v1", "model": "img-1"})
    return ws, maya, noel


def _ingest(ws, tmp_path, pixels: np.ndarray, name: str, kind: str = "reference") -> dict:
    from soundstage.services.ledger import ingest_media

    path = tmp_path / name
    Image.fromarray(pixels).save(path)
    return ingest_media(ws, path, kind=kind, actor="setup", scene="5", shot="5A")


def _job(ws, operation=OperationKind.CONCEPT_ART, **fields) -> JobSpec:
    base = dict(id="", production_id=ws.production_id, operation=operation, requested_by="Ken Ito",
                model_id="vendor.images", prompt="a lighthouse at dusk")
    base.update(fields)
    return JobSpec(**base)


def _denials(result: dict) -> dict[str, str]:
    return {r["rule_id"]: r["text"] for r in result["decision"]["reasons"] if r["outcome"] == "deny"}


def test_a_prompt_naming_an_unlisted_performer_is_denied_and_nothing_is_written(production):
    from soundstage.services import jobs_service as jobs

    ws, maya, noel = production
    result = jobs.submit_job(ws, _job(ws, prompt="NOEL VANCE's face on a wanted poster"), actor="Ken Ito")
    assert result["status"] == "denied" and result["assets"] == []
    text = _denials(result)["SAG-PROMPT-NAMES-UNLISTED-PERFORMER"]
    assert f"Noel Vance ({noel['id']}): named in prompt" in text and "list them" in text


def test_a_name_in_a_text_parameter_is_caught_too(production):
    from soundstage.services import jobs_service as jobs

    ws, maya, noel = production
    result = jobs.submit_job(ws, _job(ws, params={"style": "in the style of maya\u00a0castell"}), actor="Ken Ito")
    assert "params.style" in _denials(result)["SAG-PROMPT-NAMES-UNLISTED-PERFORMER"]


def test_the_listed_consented_performer_named_in_the_prompt_goes_on_as_before(production, tmp_path):
    from soundstage.services import policy_service

    ws, maya, noel = production
    plate = _ingest(ws, tmp_path, np.full((360, 640, 3), 90, np.uint8), "plate.png", kind="plate")
    spec = _job(ws, OperationKind.LIKENESS_DEAGE, model_id="soundstage.retouch", prompt="Maya Castell, younger",
                inputs=(plate["id"],), performers=(maya["id"],), scene="5", shot="5A", alteration_amount=0.3,
                deliverable="final", medium="final")
    decision = policy_service.check_job(ws, spec)["decision"]
    assert decision["outcome"] == "escalate"
    assert not {r["rule_id"] for r in decision["reasons"]} & {"SAG-PROMPT-NAMES-UNLISTED-PERFORMER",
                                                              "SAG-INPUT-SHOWS-UNLISTED-PERFORMER"}


@pytest.mark.slow
def test_a_reference_image_of_an_enrolled_face_involves_that_performer(production, tmp_path):
    from soundstage.services import jobs_service as jobs
    from soundstage.services import policy_service

    ws, maya, noel = production
    still = _ingest(ws, tmp_path, _wide(_astronaut()), "wide.png")  # flipped, small, in a wide frame
    result = jobs.submit_job(ws, _job(ws, inputs=(still["id"],), params={"mode": "img2img"}), actor="Ken Ito")
    assert result["status"] == "denied"
    assert f"Maya Castell ({maya['id']}): face in input {still['id']} (reference" in \
        _denials(result)["SAG-INPUT-SHOWS-UNLISTED-PERFORMER"]
    # another person's face involves nobody
    stranger = _ingest(ws, tmp_path, _wide(_hopper()), "stranger.png")
    decision = policy_service.check_job(ws, _job(ws, inputs=(stranger["id"],), params={"mode": "img2img"}))["decision"]
    assert not any("SHOWS-UNLISTED" in r["rule_id"] for r in decision["reasons"])
    assert decision["outcome"] != "deny"


@pytest.mark.slow
def test_a_clip_is_checked_on_sampled_frames(production, tmp_path):
    import av

    from soundstage.services import policy_service
    from soundstage.services.ledger import ingest_media

    ws, maya, noel = production
    path = tmp_path / "element.mp4"
    blank = np.full((360, 640, 3), 40, np.uint8)
    face = _wide(_astronaut())[100:460, 640:1280]  # 640x360 with the face in it
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for i in range(24):  # the face only in the second half
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(face if i >= 12 else blank), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    clip = ingest_media(ws, path, kind="element", actor="setup", scene="5", shot="5A")
    decision = policy_service.check_job(ws, _job(ws, inputs=(clip["id"],), params={"mode": "img2img"}))["decision"]
    assert decision["outcome"] == "deny"
    assert "SAG-INPUT-SHOWS-UNLISTED-PERFORMER" in {r["rule_id"] for r in decision["reasons"]}


@pytest.mark.slow
def test_a_plate_showing_an_unlisted_performer_may_be_cleaned_up_but_not_fed_to_a_generator(production, tmp_path):
    from soundstage.services import policy_service

    ws, maya, noel = production
    plate = _ingest(ws, tmp_path, _wide(_astronaut()), "plate_A001.png", kind="plate")
    cleanup = policy_service.check_job(ws, _job(ws, OperationKind.CLEANUP, model_id="soundstage.retouch", prompt="",
                                    inputs=(plate["id"],), scene="5", shot="5A"))["decision"]
    rules = {r["rule_id"]: r["outcome"] for r in cleanup["reasons"]}
    assert rules.get("VFX-PLATE-SHOWS-UNLISTED-PERFORMER") == "proceed" and cleanup["outcome"] != "deny"
    generated = policy_service.check_job(ws, _job(ws, OperationKind.GENERATED_CHARACTER, inputs=(plate["id"],),
                                      params={"mode": "img2img"}))["decision"]
    assert generated["outcome"] == "deny" and "SAG-INPUT-SHOWS-UNLISTED-PERFORMER" in \
        {r["rule_id"] for r in generated["reasons"]}


@pytest.mark.slow
def test_revoking_consent_does_not_hide_the_performers_face(production, tmp_path):
    """The adversary's case: the reference is quarantined by the revocation, yet it still names whose
    face an input shows - a revoked performer is the one who most needs catching."""
    from soundstage.services import consent_service, policy_service, talent_service
    from soundstage.testing.identity import signer_for

    ws, maya, noel = production
    consent = talent_service.show_performer(ws, maya["id"])["consents"][0]
    consent_service.revoke_consent(ws, consent["id"], reason="withdrawn", signer=signer_for(ws, "Lena Ortiz"),
                      actor="Lena Ortiz")
    still = _ingest(ws, tmp_path, _astronaut()[:, ::-1].copy(), "flipped.png")
    decision = policy_service.check_job(ws, _job(ws, inputs=(still["id"],), params={"mode": "img2img"}))["decision"]
    assert "SAG-INPUT-SHOWS-UNLISTED-PERFORMER" in {r["rule_id"] for r in decision["reasons"]}


@pytest.mark.slow
def test_a_clip_job_naming_an_unlisted_performer_never_reaches_the_video_service(production):
    """Stills and clips take the same path: the video service is asked for nothing until the named
    performer is listed (and then their consent decides)."""
    from soundstage.services import jobs_service as jobs
    from soundstage.services import models
    from soundstage.testing.fake_video_servers import FakeOpenAIVideos

    ws, maya, noel = production
    with FakeOpenAIVideos(polls_before_done=1) as server:
        models.register_model(ws, ModelCard(id="vendor.video", name="video service (test)", version="1",
                                        training_data="licensed", evidence="test contract", trained_model=True,
                                        runs_in_production_env=True, licence="commercial", stores_inputs=False,
                                        trains_on_inputs=False),
                          backend="openai-video", actor="setup",
                          config={"base_url": server.url + "/v1", "model": "sora-2", "poll_interval_s": 0.01,
                                  "backoff_s": 0.01})

        def clip(prompt: str) -> dict:
            return jobs.submit_job(ws, JobSpec(id="", production_id=ws.production_id,
                                               operation=OperationKind.BACKGROUND_ELEMENT, requested_by="Ken Ito",
                                               model_id="vendor.video", prompt=prompt,
                                               params={"seconds": 1, "width": 192, "height": 128}), actor="Ken Ito")

        denied = clip("n\u043eel vance surfing at dawn")  # with a Cyrillic o
        assert denied["status"] == "denied" and denied["assets"] == []
        assert "SAG-PROMPT-NAMES-UNLISTED-PERFORMER" in _denials(denied)
        assert server.seen == []
        made = clip("surf rolling onto a beach at dawn")
        assert made["status"] == "done" and len(made["assets"]) == 1 and server.seen
