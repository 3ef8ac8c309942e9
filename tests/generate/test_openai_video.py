"""The OpenAI-compatible video backend against a local server speaking OpenAI's videos protocol."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import BackendError, InputError, SpecError
from soundstage.generate.backends.openai_video import OpenAIVideoGenerator
from soundstage.generate.protocol import GeneratedClip, GenerationInput, GenerationRequest
from soundstage.media.video import iter_frames
from soundstage.safeguards.watermark import default_engine
from soundstage.testing.fake_video_servers import FPS, FakeOpenAIVideos

KEY = b"production-secret-key-for-tests!"
FAST = {"timeout_s": 2.0, "retries": 2, "backoff_s": 0.01, "poll_interval_s": 0.01, "poll_timeout_s": 5}
SMALL = {"seconds": 1, "width": 160, "height": 128}


def req(tmp_path: Path, params: dict, inputs=(), prompt="a lighthouse in a storm, slow push in", **kw):
    spec = JobSpec(id="J-vid", production_id="p", operation=OperationKind.CONCEPT_ART, requested_by="tester",
                   model_id="vendor.video", prompt=prompt, params=params)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return GenerationRequest(job=spec, inputs=tuple(inputs), params=params, seed=0, scratch_dir=scratch,
                             reserved_asset_ids=(0x5EED01, 0x5EED02), watermark_key=KEY, **kw)


@pytest.fixture
def service(monkeypatch):
    monkeypatch.setenv("TEST_VIDEO_KEY", "sk-video-123")
    with FakeOpenAIVideos(api_key="sk-video-123", polls_before_done=2) as server:
        yield server, OpenAIVideoGenerator("vendor.video", {"base_url": server.url + "/v1", "model": "sora-2",
                                                            "api_key_env": "TEST_VIDEO_KEY", **FAST})


def test_create_poll_download_marks_every_frame(service, tmp_path):
    server, gen = service
    ticks: list[tuple[int, int]] = []
    out = gen.generate(req(tmp_path, SMALL, progress=lambda d, t: ticks.append((d, t))))
    assert len(out) == 1 and isinstance(out[0], GeneratedClip)
    clip = out[0]
    assert clip.operation == "generated" and clip.payload == 0x5EED01 and clip.media_type == "video/mp4"
    assert clip.details["frames"] == FPS and clip.details["size"] == [160, 128]
    created = server.requests_to("/v1/videos")[0]
    assert created.method == "POST" and created.headers["Authorization"] == "Bearer sk-video-123"
    assert created.headers["Content-Type"].startswith("multipart/form-data")
    assert created.form == {"model": "sora-2", "prompt": "a lighthouse in a storm, slow push in", "seconds": "1",
                            "size": "160x128"}
    video_id = clip.details["service_video_id"]
    polls = [s for s in server.seen if s.method == "GET" and s.path == f"/v1/videos/{video_id}"]
    assert len(polls) == 3  # in_progress, in_progress, completed
    content = server.requests_to(f"/v1/videos/{video_id}/content")
    assert len(content) == 1 and content[0].query == {"variant": ["video"]}
    # the service's progress percentage while it renders, then one tick per frame as it is marked
    assert (FPS, FPS) == ticks[-1] and [t for t in ticks if t[1] == FPS] == [(i, FPS) for i in range(1, FPS + 1)]
    assert any(t[1] == 100 for t in ticks)
    # every frame carries the clip's id under the production key; the public key finds nothing
    engine = default_engine(KEY)
    frames = list(iter_frames(clip.path))
    assert len(frames) == FPS
    for index in (0, FPS // 2, FPS - 1):
        found = engine.detect(frames[index])
        assert found.found and found.payload == 0x5EED01, index
    assert default_engine().detect_frames(frames[:3]).payload != 0x5EED01
    assert not (tmp_path / "scratch" / "service_download.mp4").exists()  # the unmarked download is gone


def test_image_to_video_sends_the_reference_and_names_the_parent(service, tmp_path):
    server, gen = service
    Image.fromarray(np.full((128, 160, 3), 40, np.uint8)).save(tmp_path / "board.png")
    source = GenerationInput(7, tmp_path / "board.png", "image/png", "image", "board.png")
    clip = gen.generate(req(tmp_path, SMALL, (source,)))[0]
    assert clip.operation == "genai_edit" and clip.parents == (7,) and clip.details["mode"] == "image2video"
    form = server.requests_to("/v1/videos")[0].form
    assert form["input_reference"][0] == "board.png"
    assert form["input_reference"][1] == (tmp_path / "board.png").read_bytes()


def test_a_video_input_is_not_a_reference_image(service, tmp_path):
    _, gen = service
    source = GenerationInput(7, tmp_path / "x.mp4", "video/mp4", "video", "x.mp4")
    with pytest.raises(InputError, match="image-to-video takes an image"):
        gen.generate(req(tmp_path, SMALL, (source,)))


def test_429_and_500_are_retried_with_backoff(service, tmp_path):
    server, gen = service
    server.script("/v1/videos", 429, {"error": {"message": "Rate limit reached", "type": "requests"}})
    server.script("/v1/videos", 500, {"error": {"message": "boom", "type": "server_error"}})
    gen.generate(req(tmp_path, SMALL))
    assert [s.method for s in server.requests_to("/v1/videos")][:3] == ["POST", "POST", "POST"]


def test_a_400_is_not_retried_and_says_why(service, tmp_path):
    server, gen = service
    server.script("/v1/videos", 400, {"error": {"message": "Your request was rejected by the safety system.",
                                                "type": "invalid_request_error", "code": "moderation_blocked"}})
    with pytest.raises(BackendError, match="HTTP 400: Your request was rejected by the safety system"):
        gen.generate(req(tmp_path, SMALL))
    assert len(server.requests_to("/v1/videos")) == 1


def test_a_failed_job_reports_the_service_error(service, tmp_path):
    server, gen = service
    server.fail_with = "The prompt violates our usage policies."
    with pytest.raises(BackendError, match="failed video video_.*violates our usage policies"):
        gen.generate(req(tmp_path, SMALL))


def test_a_poll_that_never_completes_times_out_and_deletes_the_job(service, tmp_path):
    server, gen = service
    server.never_completes = True
    slow = OpenAIVideoGenerator("v", {**gen.config, "poll_timeout_s": 0.2})
    started = time.monotonic()
    with pytest.raises(BackendError, match="did not finish within 0.2 s; it was deleted"):
        slow.generate(req(tmp_path, SMALL))
    assert time.monotonic() - started < 3
    (job,) = server.jobs.values()
    assert job.deleted and server.requests_to(f"/v1/videos/{job.id}")[-1].method == "DELETE"


def test_cancelling_deletes_the_job_on_the_service(service, tmp_path):
    server, gen = service
    server.never_completes = True
    polls = []
    with pytest.raises(BackendError, match="cancelled"):
        gen.generate(req(tmp_path, SMALL, cancelled=lambda: len(polls.append(1) or polls) > 2))
    (job,) = server.jobs.values()
    assert job.deleted


def test_more_bytes_than_allowed_are_refused_and_nothing_is_left(service, tmp_path):
    server, gen = service
    server.content_override = b"\x00" * 200_000
    small = OpenAIVideoGenerator("v", {**gen.config, "max_download_bytes": 100_000})
    with pytest.raises(BackendError, match="over the 0.1 MB download limit"):
        small.generate(req(tmp_path, SMALL))
    assert list((tmp_path / "scratch").iterdir()) == []


def test_a_body_that_is_not_a_video_is_refused(service, tmp_path):
    server, gen = service
    server.content_override = b"<html><body>Sign in to continue</body></html>"
    with pytest.raises(BackendError, match="returned something that is not a video"):
        gen.generate(req(tmp_path, SMALL))
    assert list((tmp_path / "scratch").iterdir()) == []


@pytest.mark.parametrize("params, field", [({"seconds": 0}, "params.seconds"), ({"seconds": 99}, "params.seconds"),
                                           ({"width": 10}, "params.width"), ({"height": True}, "params.height")])
def test_params_out_of_bounds_are_refused_before_any_request(service, tmp_path, params, field):
    server, gen = service
    with pytest.raises(SpecError) as err:
        gen.generate(req(tmp_path, {**SMALL, **params}))
    assert err.value.field == field and server.seen == []


def test_no_secret_in_config_and_a_missing_key_is_named(service, tmp_path, monkeypatch):
    _, gen = service
    with pytest.raises(SpecError, match="holds a secret"):
        OpenAIVideoGenerator("v", {"model": "m", "api_key": "sk-live"})
    monkeypatch.delenv("TEST_VIDEO_KEY")
    with pytest.raises(SpecError, match="TEST_VIDEO_KEY"):
        gen.generate(req(tmp_path, SMALL))


@pytest.mark.parametrize("backend, field", [("openai-video", "base_url"), ("openai-video", "model"),
                                            ("openai-video", "api_key_env"), ("diffusers-video", "path"),
                                            ("diffusers-video", "weights_sha256"), ("comfyui", "workflow")])
def test_server_owned_settings_are_not_job_parameters(backend, field):
    from soundstage.domain.params import validate
    from soundstage.generate.registry import get_generator, operation_params

    declared = operation_params(get_generator("m", backend, {}), "concept_art")
    with pytest.raises(SpecError) as err:
        validate({field: "http://attacker.example/v1"}, declared, operation="concept_art on m")
    assert err.value.field == f"params.{field}"


def test_importing_the_video_backends_is_light():
    import subprocess
    import sys

    code = ("import sys; import soundstage.generate.backends.openai_video, soundstage.generate.backends.comfyui_http,"
            " soundstage.generate.clips; bad = {'httpx', 'av', 'torch', 'PIL.Image'} & set(sys.modules);"
            " assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
