"""C2PA Content Credentials for everything soundstage writes: build, sign, read, verify.

    manifest.py  pure: ManifestSpec -> manifest definition (actions, digitalSourceType, ingredients,
                 training-mining, soft binding, our io.soundstage.production assertion)
    signing.py   embed into JPEG/PNG/MP4/MOV; sidecar .c2pa for frame sequences
    reading.py   read + validate any file's credentials (Trusted / Valid / Invalid / Absent)
    media.py     type sniffing and size limits for hostile input
"""

from soundstage.safeguards.provenance.manifest import (
    AI_SOURCE_TYPES,
    IPTC,
    SOUNDSTAGE_ASSERTION,
    TRAINING_MINING_ASSERTION,
    TRAINING_MINING_KEYS,
    IngredientSource,
    ManifestSpec,
    ModelInfo,
    Operation,
    SoftwareAgent,
    SoundstageRecord,
    build_manifest,
    consent_reference,
    source_type_of,
)
from soundstage.safeguards.provenance.media import SizeLimits, sniff_mime
from soundstage.safeguards.provenance.reading import (
    CredentialState,
    Credentials,
    IngredientReading,
    read_credentials,
)
from soundstage.safeguards.provenance.signing import (
    FRAME_INDEX_ASSERTION,
    SequenceVerification,
    SignResult,
    frame_index_document,
    sign_file,
    sign_sequence,
    verify_sequence,
)

__all__ = [
    "IPTC", "SOUNDSTAGE_ASSERTION", "TRAINING_MINING_ASSERTION", "TRAINING_MINING_KEYS", "FRAME_INDEX_ASSERTION",
    "Operation", "SoftwareAgent", "ModelInfo", "IngredientSource", "SoundstageRecord", "ManifestSpec",
    "build_manifest", "consent_reference", "source_type_of", "AI_SOURCE_TYPES", "SizeLimits", "sniff_mime",
    "CredentialState", "Credentials", "IngredientReading", "read_credentials",
    "SignResult", "SequenceVerification", "sign_file", "sign_sequence", "verify_sequence", "frame_index_document",
]
