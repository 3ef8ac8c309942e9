"""C2PA Content Credentials for everything soundstage writes: build, sign, read, verify.

    manifest.py  pure: ManifestSpec -> manifest definition (actions, digitalSourceType, ingredients,
                 training-mining, our io.soundstage.production / .watermark / .models assertions)
    signing.py   embed into JPEG/PNG/MP4/MOV; a sidecar .c2pa bound to any other file, or to a sequence
    sidecars.py  read a sidecar with its file, alone, or with a sequence's frames (naming the changed ones)
    reading.py   read + validate any file's credentials (Trusted / Valid / Invalid / Absent)
    media.py     type sniffing and size limits for hostile input
"""

from soundstage.safeguards.provenance.manifest import (
    AI_SOURCE_TYPES,
    IPTC,
    MODELS_ASSERTION,
    SOUNDSTAGE_ASSERTION,
    TRAINING_MINING_ASSERTION,
    TRAINING_MINING_KEYS,
    WATERMARK_ASSERTION,
    HashedReference,
    IngredientSource,
    ManifestSpec,
    ModelInfo,
    Operation,
    SoftwareAgent,
    SoundstageRecord,
    WatermarkInfo,
    build_manifest,
    consent_reference,
    source_type_of,
    spec_source_type,
)
from soundstage.safeguards.provenance.media import SIDECAR_MAX_BYTES, SizeLimits, sidecar_candidates, sniff_mime
from soundstage.safeguards.provenance.reading import (
    CredentialState,
    Credentials,
    IngredientReading,
    read_credentials,
)
from soundstage.safeguards.provenance.sidecars import (
    FRAME_INDEX_ASSERTION,
    MAX_SEQUENCE_FRAMES,
    MAX_SEQUENCE_PARTS,
    PartVerification,
    SequenceVerification,
    SidecarReading,
    frame_index_document,
    part_sidecar,
    read_sidecar,
    read_with_sidecar,
    sequence_parts,
    verify_sequence,
)
from soundstage.safeguards.provenance.signing import (
    SignResult,
    sign_file,
    sign_sequence,
    sign_sidecar,
)

__all__ = [
    "IPTC", "SOUNDSTAGE_ASSERTION", "TRAINING_MINING_ASSERTION", "TRAINING_MINING_KEYS", "FRAME_INDEX_ASSERTION",
    "Operation", "SoftwareAgent", "ModelInfo", "IngredientSource", "SoundstageRecord", "ManifestSpec",
    "build_manifest", "consent_reference", "source_type_of", "AI_SOURCE_TYPES", "SizeLimits", "sniff_mime",
    "WATERMARK_ASSERTION", "MODELS_ASSERTION", "HashedReference", "WatermarkInfo", "spec_source_type",
    "CredentialState", "Credentials", "IngredientReading", "read_credentials",
    "SignResult", "SequenceVerification", "sign_file", "sign_sequence", "verify_sequence", "frame_index_document",
    "sign_sidecar", "SidecarReading", "read_sidecar", "read_with_sidecar", "sidecar_candidates", "SIDECAR_MAX_BYTES",
    "MAX_SEQUENCE_FRAMES", "MAX_SEQUENCE_PARTS", "PartVerification", "part_sidecar", "sequence_parts",
]
