"""The "vfx" backend: a frame operation over a whole plate, chunked, watermarked, encoded.

The guard has already checked consent, policy and approvals; this backend only turns a plate into
an altered clip whose every frame carries the reserved asset id. It never writes to the asset
store. What it runs is decided by data the client does not control: the job's operation (the one
the policy decided on) picks the frame operation from ``soundstage.vfx.registry`` (or the model
record names one that performs it); the parameters are the operation's declared ones, already
validated; the reference faces, the work directory and the cluster come from the guard, which
resolved them from the ledger and the production's configuration. Chunks live in a work
directory keyed by the (server-generated) job id, so re-running the same job resumes.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

from soundstage import __version__, compute
from soundstage.compute import FrameJob, FrameSource
from soundstage.compute.chunks import DEFAULT_CHUNK_FRAMES, DEFAULT_FACTORY
from soundstage.compute.executors import clear_work_dir
from soundstage.domain.params import Param
from soundstage.domain.safeguards import ModelCard
from soundstage.errors import InputError, ParseError, RefusedError
from soundstage.files import sha256_file
from soundstage.generate.protocol import GeneratedClip, GenerationRequest, InputUse, OutputProvenance
from soundstage.media.images import read_image
from soundstage.safeguards.provenance.manifest import ModelInfo
from soundstage.safeguards.watermark import default_engine, detect_with_keys
from soundstage.vfx.contract import OpContext
from soundstage.vfx.media import ColourInfo, check_frame_size, probe
from soundstage.vfx.ops.cleanup import MAX_MARKED_MASK_FRACTION, WATERMARK_CHECK_INTERVAL
from soundstage.vfx.registry import (
    CODEC,
    NETWORKS,
    network_sha256,
    network_version,
    networks_digest,
    operation_for,
    vfx_operations,
)
from soundstage.vfx.sequences import SequenceIndex, read_frame_rgb8

__all__ = ["VfxOperationBackend", "OUTPUT_CODECS"]

OUTPUT_CODECS = {"h264": (".mp4", "video/mp4"), "h265": (".mp4", "video/mp4"), "prores": (".mov", "video/quicktime")}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".dpx")


def _declared_operations() -> dict[str, tuple[Param, ...]]:
    """job operation -> declared parameters, from the VFX operation registry (built-ins)."""
    out: dict[str, tuple[Param, ...]] = {}
    for definition in vfx_operations().values():
        for kind in definition.kinds:
            out.setdefault(kind.value, (*definition.params, CODEC))
    return out


class VfxOperationBackend:
    """``config`` (the model record's, server-side): ``operation`` (a registered VFX operation name;
    default the built-in for the job's operation), ``factory`` ("module:function" building the
    operation in the workers; default the registry's), ``chunk_frames`` (default 48), ``generative``
    (the local diffusers configuration a generative model runs with)."""

    def __init__(self, model_id: str = "soundstage.vfx-classical", config: Mapping[str, Any] | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})

    def operations(self) -> dict[str, tuple[Param, ...]]:
        """job operation -> the parameters a job may set (the registry's declarations)."""
        configured = self.config.get("operation")
        if configured:
            definition = vfx_operations().get(str(configured))
            return {k.value: (*definition.params, CODEC) for k in definition.kinds} if definition else {}
        return _declared_operations()

    def model_card(self) -> ModelCard:
        """The proposed registry record: trained (face detection, landmark, identity and matte
        networks drive every built-in operation), not generative (no pixel comes from a network),
        named by one digest over the networks' weights files as installed (DR009)."""
        configured = self.config.get("operation")
        definitions = [vfx_operations()[str(configured)]] if configured in vfx_operations() else \
            list(vfx_operations().values())
        names = tuple(dict.fromkeys(n.network for d in definitions for n in d.networks))
        generative = isinstance(self.config.get("generative"), Mapping)
        if generative:
            return ModelCard(
                id=self.model_id, name="soundstage VFX with a local diffusion model", version=__version__,
                licence=str(self.config.get("licence", "")),
                weights_sha256=str(self.config["generative"].get("weights_sha256") or "") or None,
                training_data=str(self.config.get("training_data", "unknown")),
                evidence="generative face and inpainting passes by the configured diffusers weights",
                stores_inputs=False, trains_on_inputs=False, runs_in_production_env=True, trained_model=True,
                generative=True)
        if not names:
            return ModelCard(
                id=self.model_id, name=f"soundstage VFX operation {configured or ''}".strip(), version=__version__,
                licence="Apache-2.0", weights_sha256="", training_data="owned",
                evidence="the operation declares no trained network", stores_inputs=False, trains_on_inputs=False,
                runs_in_production_env=True, trained_model=False, generative=False)
        networks = "; ".join(f"{NETWORKS[n].name} ({NETWORKS[n].licence}): {NETWORKS[n].attestation}" for n in names)
        return ModelCard(
            id=self.model_id,
            name="soundstage VFX (landmark-masked retouch and warps, mattes, keying, inpainting)",
            version=__version__,
            licence="Apache-2.0 (soundstage; MediaPipe models); dlib model files dedicated to the public domain; "
                    "dlib library BSL-1.0",
            weights_sha256=networks_digest(names) or "", training_data="licensed",
            evidence="trained, non-generative networks locate, segment and identify faces and people; the pixels "
                     "are changed by classical image processing. Every network is used under its maker's licence "
                     "and its maker documents its training data (not every training image's rights were cleared "
                     f"by its maker): {networks}",
            stores_inputs=False, trains_on_inputs=False, runs_in_production_env=True, trained_model=True,
            generative=False)

    def generate(self, request: GenerationRequest) -> list[GeneratedClip]:
        job = request.job
        params = dict(request.params or {})
        definition = operation_for(job.operation, self.config.get("operation"))
        operation = definition.name
        if not request.inputs:
            raise InputError("a VFX job needs the plate as its first input")
        if not request.reserved_asset_ids:
            raise InputError("no asset id reserved for the output")
        plate = request.inputs[0]
        payload = request.reserved_asset_ids[0]

        store = request.job_store  # the production's store by address (None: local files, this machine)
        source, info, timecode, colour = self._source(plate, by_hash=store is not None)
        refs = {pid: _ref(path, store) for pid, path in (request.performer_references or {}).items()}
        missing = [p for p in job.performers if p not in refs]
        if definition.faces and missing:
            raise InputError(f"performer(s) {', '.join(missing)} have no enrolled reference image; an "
                             "unidentified face is never altered",
                             hint="enroll one: soundstage talent enroll NAME IMAGE")
        extra: dict[str, str] = {}
        input_marks: dict[str, tuple[int, int, int]] = {}
        role = definition.second_input
        if role:
            if len(request.inputs) < 2:
                raise InputError(f"{operation} needs a second input: the {role}")
            second = request.inputs[1]
            if definition.second_input_signed and second.watermark_payload is None:  # issue 16: vfx place
                raise RefusedError(f"{operation}: the {role} {second.name} is not a signed asset of this production "
                                   "(it was added to the store, not made by a guarded job)",
                                   hint=f"generate or render the {role} through a job, then use that asset")
            extra[role] = second.sha256 or sha256_file(second.path) if store is not None else str(second.path)
            if second.watermark_payload and str(second.media_type).startswith("image/"):
                # a still made by an earlier job carries that job's mark: the worker lifts it before
                # compositing, or the output would carry two ids whose bits cancel
                from PIL import Image

                with Image.open(second.path) as image:
                    input_marks[role] = (int(second.watermark_payload), image.height, image.width)
            elif second.watermark_payload and str(second.media_type).startswith("video/"):
                # a clip made by an earlier job (a generated background, issue 16): lifted frame by frame

                shape = probe(second.path)
                input_marks[role] = (int(second.watermark_payload), shape.height, shape.width)
            if role == "mask":
                self._check_mask(second.path, source.width, source.height)
        codec = str(params.pop("codec", "h264"))
        op_params = dict(params)
        # the strength is the spec's alteration_amount: the number the policy and the consent scope judged
        op_params["amount"] = job.alteration_amount
        if plate.watermark_payload:
            # the plate came out of an earlier job: lift its mark before re-marking with this job's id
            op_params["source_watermark"] = plate.watermark_payload
        op_params["seed"] = request.seed
        generative = isinstance(self.config.get("generative"), Mapping)
        if generative:
            op_params.update(generative=True, generative_config=dict(self.config["generative"]), prompt=job.prompt)
            if operation == "cleanup":
                op_params["method"] = "generative"
        context = OpContext(operation=operation, params=op_params,
                            performers={p: refs[p] for p in job.performers if p in refs}, fps=float(source.fps),
                            width=source.width, height=source.height, extra_inputs=extra,
                            watermark_key=(request.watermark_key or b"").hex())
        if codec not in OUTPUT_CODECS:
            raise InputError(f"unknown codec {codec!r}", hint="h264, h265 or prores")
        suffix, media_type = OUTPUT_CODECS[codec]
        stem = Path(plate.name).stem
        name = f"{stem}_{operation}{suffix}"
        scratch = Path(request.scratch_dir) if request.scratch_dir else None
        work_root = Path(request.work_root or scratch or ".")
        output = (scratch or work_root) / name
        frame_job = FrameJob(
            job_id=job.id or "adhoc", work_root=work_root, source=source, source_sha256=plate.sha256 or sha256_file(plate.path),
            context=context, payload=payload, output=output, codec=codec,
            chunk_frames=int(self.config.get("chunk_frames") or DEFAULT_CHUNK_FRAMES),
            factory=str(self.config.get("factory") or DEFAULT_FACTORY),
            audio_from=plate.path if info is not None and info.audio else None, timecode=timecode, colour=colour,
            store=store, input_marks=input_marks)
        if operation == "cleanup" and role == "mask":
            # the production key stays on this machine (DR016): the cleanup guard's check for a
            # provenance mark under a large mask is made here, with the key, before any chunk runs
            _refuse_large_mask_over_marks(source, request.inputs[1].path, plate.watermark_payload,
                                          request.watermark_key, store)
        executor = compute.make_executor(request.cluster, workers=int(request.workers or 2),
                                         options=request.cluster_options)
        try:
            result = compute.run_frame_job(frame_job, executor, progress=request.progress, cancelled=request.cancelled)
        finally:
            executor.close()
        if not self.config.get("keep_chunks"):
            # the clip is complete: its segments (a second copy of it) have done their job

            clear_work_dir(frame_job)
        # a configured factory replaces the registry's class: its networks are not the declared ones
        provenance = _provenance(definition, request, params, tuple(context.performers),
                                 declared_networks=not self.config.get("factory"))
        placed = any(use is InputUse.COMPONENT for _, use in provenance.inputs)
        return [GeneratedClip(
            path=result.output, name=name, payload=payload, parents=(plate.asset_id,),
            operation="composite" if placed else "genai_edit" if generative else "edit", media_type=media_type,
            provenance=provenance,
            details={"frames": result.frames, "fps": f"{source.fps.numerator}/{source.fps.denominator}",
                     "codec": codec, "vfx_operation": operation, "chunks": result.chunks,
                     "reused_chunks": result.reused_chunks, "executor": result.executor,
                     "timecode": timecode, "source": plate.name})]

    @staticmethod
    def _source(plate, *, by_hash: bool = False):
        """(frame source, video info or None, timecode, colour tags) of the plate: a video (probed,
        VFR and truncation refused), an image-sequence asset, or a still image as a one-frame plate.
        ``by_hash``: the source names content hashes only (render nodes fetch them), never a path."""
        path, name = Path(plate.path), plate.name
        if plate.frames:
            index = SequenceIndex.from_bytes(path.read_bytes(), source=name)
            if len(index.frames) != len(plate.frames):
                raise ParseError(f"the index lists {len(index.frames)} frames, {len(plate.frames)} were handed over",
                                 source=name)
            check_frame_size(index.width, index.height, source=name)
            # EXR is converted with the sRGB curve and PNG is display-referred: tag the result so;
            # DPX code values (often log) keep unspecified tags rather than a claim we cannot back
            colour = ColourInfo(1, 2, 2, 2) if index.format == "dpx" else ColourInfo(1, 1, 13, 1)
            named = {"frame_sha256": tuple(f.sha256 for f in index.frames)} if by_hash else \
                {"frame_paths": tuple(str(p) for p in plate.frames)}
            return (FrameSource("images", frame_count=len(plate.frames), fps=index.fps, width=index.width,
                                height=index.height, **named), None, index.timecode, colour)
        if Path(name).suffix.lower() in IMAGE_SUFFIXES:
            frame = read_frame_rgb8(path)
            check_frame_size(frame.shape[1], frame.shape[0], source=name)
            named = {"frame_sha256": (plate.sha256 or sha256_file(path),)} if by_hash else {"frame_paths": (str(path),)}
            return FrameSource("images", frame_count=1, fps=Fraction(24), width=frame.shape[1],
                               height=frame.shape[0], **named), None, None, None
        info = probe(path, refuse_vfr=True)
        if info.truncated:
            raise ParseError(f"the plate is truncated: {info.frame_count} of {info.declared_frames} frames are "
                             "readable; nothing was processed", source=name,
                             hint="re-export or re-transfer the plate")
        named = {"sha256": plate.sha256 or sha256_file(path), "video_info": replace(info, path="")} if by_hash else \
            {"path": str(path), "video_info": info}
        return (FrameSource("video", frame_count=info.frame_count, fps=info.fps, width=info.width,
                            height=info.height, **named), info, info.timecode, info.colour)

    @staticmethod
    def _check_mask(path: Path, width: int, height: int) -> None:
        mask = read_frame_rgb8(path)
        if mask.shape[:2] != (height, width):
            raise InputError(f"the mask is {mask.shape[1]}x{mask.shape[0]}; the plate is {width}x{height}",
                             hint="export the mask at the plate's resolution")


def _provenance(definition, request: GenerationRequest, params: Mapping[str, Any],
                performers: tuple[str, ...], *, declared_networks: bool = True) -> OutputProvenance:
    """How the output was made, from the operation's registry declarations: what the second input
    was (placed, a mask, a reference), whose reference faces identified them, which networks ran."""
    inputs: tuple[tuple[int, InputUse], ...] = ()
    if definition.second_input and definition.second_input_use and len(request.inputs) > 1:
        inputs = ((request.inputs[1].asset_id, InputUse(definition.second_input_use)),)
    identified = performers if definition.performer_references else ()
    names = definition.networks_for(params, bool(identified)) if declared_networks else ()
    networks = tuple(_network_info(n) for n in names)
    return OutputProvenance(inputs=inputs, performer_references=identified, networks=networks)


def _network_info(name: str) -> ModelInfo:
    network = NETWORKS[name]
    shipped = f"{network.package} {network_version(name)}".strip()
    return ModelInfo(
        name=network.name, version=shipped, weights_sha256=network_sha256(name), licence=network.licence,
        training_data_attestation=network.attestation, generative=False, task=network.task,
        framework=network.framework, informational_uri=network.informational_uri,
        training_data=network.training_data,
        description=f"{network.name}, shipped in {shipped}: a trained, non-generative {network.task} "
                    f"(licence {network.licence}). Training data: {network.attestation}.")


def _refuse_large_mask_over_marks(source, mask_path: Path, lift: int | None, key: bytes | None, store) -> None:
    """RefusedError when the mask covers more than the cleanup limit of frames that carry this
    production's mark (or a public-key mark); the plate's own mark (its id) is lifted first."""
    fraction = float((read_image(Path(mask_path)).mean(axis=2) > 127).mean())
    if fraction <= MAX_MARKED_MASK_FRACTION:
        return
    keys = list(dict.fromkeys((key or None, None)))
    fetch = store.fetch if store is not None else None
    for index in range(0, source.frame_count, WATERMARK_CHECK_INTERVAL):
        frame = next(iter(source.read(index, index + 1, fetch)))
        if lift:
            frame = default_engine(keys[0]).remove(frame, int(lift))
        if any(detection.found for detection in detect_with_keys(frame, keys)):
            raise RefusedError(f"cleanup refused: frame {index} carries a provenance watermark and the mask covers "
                               f"{fraction:.0%} of it (limit {MAX_MARKED_MASK_FRACTION:.0%})")


def _ref(path: Path, store) -> str:
    """How a chunk task names a reference file: its content hash for render nodes (they fetch it
    from the store), its path when the job runs on this machine's files."""
    return sha256_file(Path(path)) if store is not None else str(path)
