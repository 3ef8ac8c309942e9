"""A voice job waiting for approval gets a guarded preview by ear (DR023): the worker renders the
job's line through the guard, cut to at most 6 s, mono 16 kHz, opened by two tones, marked with the
preview's own id in the production's audio watermark, signed as temporary, registered as kind
preview and bindable into the approval; nothing new is spoken and the job still waits."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_voice_service import HOLDERS, LINE, adr_job, cast, grant_voice, reference_wav, speech_server  # noqa: E402,F401

from soundstage.errors import StateConflictError  # noqa: E402
from soundstage.safeguards.guard import parse_asset_id  # noqa: E402
from soundstage.safeguards.previews import AUDIO_PREVIEW_RATE, AUDIO_PREVIEW_SECONDS, AUDIO_PREVIEW_TONE  # noqa: E402
from soundstage.safeguards.provenance import read_credentials  # noqa: E402
from soundstage.safeguards.watermark.audio import default_audio_engine  # noqa: E402
from soundstage.services import jobs_service as jobs  # noqa: E402
from soundstage.services import preview_service  # noqa: E402
from soundstage.services import voice_service as voice  # noqa: E402
from soundstage.services.worker_service import drain_queue  # noqa: E402
from soundstage.testing.identity import signer_for  # noqa: E402
from soundstage.voice.pcm import read_track  # noqa: E402


def test_a_voice_job_waiting_for_approval_is_previewed_by_ear(cast):  # noqa: F811 (the fixture)
    ws, maya, _noel, plate, tmp = cast
    grant_voice(ws, maya, tmp)
    voice.enroll_voice(ws, maya["id"], reference_wav(tmp), actor="Lena Ortiz")
    waiting = voice.submit_voice_job(ws, adr_job(ws, maya, plate), actor="Ken Ito")
    job = waiting["job"]
    assert waiting["status"] == "escalated"
    asked = preview_service.request_preview(ws, job, actor="Tom Reed")
    assert asked["status"] == "pending"
    assert drain_queue(ws).previews == 1
    status = preview_service.preview_status(ws, job)
    assert status["status"] == "done", status
    shown = status["preview"]
    assert shown["media_type"] == "audio/wav" and shown["name"].startswith("preview-")
    path = ws.store.path_for(shown["preview_digest"])
    samples, rate = read_track(path)
    seconds = samples.shape[0] / rate
    hz, tone, gap = AUDIO_PREVIEW_TONE
    assert rate == AUDIO_PREVIEW_RATE and samples.shape[1] == 1
    assert 2.0 < seconds <= AUDIO_PREVIEW_SECONDS + 2 * (tone + gap) + 0.01
    # the two tones open it: most of the first tone's energy is at its frequency
    head = samples[: int(tone * rate), 0]
    spectrum = np.abs(np.fft.rfft(head))
    assert abs(np.argmax(spectrum) * rate / len(head) - hz) < 20
    # the production's audio mark reads back as the preview's own id, not the job's output's
    found = default_audio_engine(ws.watermark_key).detect(samples, rate)
    assert found.found and found.payload == parse_asset_id(shown["asset"])
    creds = read_credentials(path, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert creds.state.value == "Trusted" and creds.soundstage["asset_id"] == shown["asset"]
    card = preview_service.review_card(ws, job)
    assert card.preview is not None and card.preview.kind == "preview" and card.preview_digest == shown["preview_digest"]
    assert card.can_preview and card.preview_required  # approvers listen before they approve
    assert jobs.show_job(ws, job)["status"] == "escalated" and card.outputs == ()
    # bindable into the approval like a picture preview: a verdict names it, and a forged one is refused
    role = waiting["decision"]["approver_roles"][0]
    with pytest.raises(StateConflictError, match="look at the preview first"):
        jobs.decide_on_job(ws, job, signer=signer_for(ws, HOLDERS[role]), role=role, verdict="approve",
                           actor=HOLDERS[role], wait=False)
    with pytest.raises(StateConflictError, match="not its current preview"):
        jobs.decide_on_job(ws, job, signer=signer_for(ws, HOLDERS[role]), role=role, verdict="approve",
                           actor=HOLDERS[role], preview_digest="0" * 64, wait=False)
    jobs.decide_on_job(ws, job, signer=signer_for(ws, HOLDERS[role]), role=role, verdict="approve",
                       actor=HOLDERS[role], preview_digest=shown["preview_digest"], wait=False)
    approvals = jobs.show_job(ws, job)["approvals"]
    assert [(a["role"], a["preview_digest"]) for a in approvals] == [(role, shown["preview_digest"])]
    assert LINE  # the job's own line: the preview speaks nothing new
