"""Read soundstage's Content Credentials with readers that are not soundstage's.

Two readers, installed from npm by ``make install`` (``package.json``, ``package-lock.json``):

- **c2pa-wasm** (``@contentauth/c2pa-wasm`` 0.13.3): the C2PA project's WebAssembly build of
  c2pa-rs 0.91, run under Node by ``tests/interop/c2pa_read.mjs``. It validates (signature,
  certificate chain and trust, every hashed URI, the hard binding of an embedded manifest) and
  gives the manifest store as JSON. It is the same core as c2pa-python, compiled and shipped
  separately: an independent build, not independent validation logic. It cannot read a manifest
  store together with a separate asset; a sidecar is read alone and the script checks the hard
  binding against the asset by the spec (see the script's header and ``WasmReading``).
- **ExifTool** >= 13 (``exiftool-vendored.pl``, Perl): a fully separate parser of the JUMBF
  boxes. It validates nothing; it shows that a C2PA block is there and what it is labelled.

``missing()`` says why the readers cannot run here (``None`` when they can).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from soundstage.errors import BackendError, NotFoundError, ParseError

__all__ = [
    "C2PA_WASM_VERSION",
    "EXIFTOOL_MINIMUM",
    "Binding",
    "JumbfListing",
    "JumbfManifest",
    "NODE_MODULES",
    "SidecarItem",
    "WasmReading",
    "exiftool_jumbf",
    "exiftool_version",
    "missing",
    "read_with_c2pa_wasm",
]

REPO_ROOT = Path(__file__).resolve().parents[3]
READER_SCRIPT = REPO_ROOT / "tests" / "interop" / "c2pa_read.mjs"
NODE_MODULES = REPO_ROOT / "node_modules"
C2PA_WASM_PACKAGE = NODE_MODULES / "@contentauth" / "c2pa-wasm" / "package.json"
EXIFTOOL_SCRIPT = NODE_MODULES / "exiftool-vendored.pl" / "bin" / "exiftool"
C2PA_WASM_VERSION = "0.13.3"
EXIFTOOL_MINIMUM = (13, 0)
TIMEOUT_S = 180

#: the validation codes a reader reports for a hard binding, by binding assertion (C2PA 2.2 15.x)
_BINDING_MISMATCH = {"c2pa.hash.data": "assertion.dataHash.mismatch",
                     "c2pa.hash.collection.data": "assertion.collectionHash.mismatch"}
_HARD_BINDINGS = ("c2pa.hash.data", "c2pa.hash.boxes", "c2pa.hash.collection.data", "c2pa.hash.bmff")
#: failures that leave a manifest "Valid" (c2pa-rs: well-formed and intact, signer not trusted)
_NOT_INVALIDATING = frozenset({"signingCredential.untrusted"})


def missing() -> str | None:
    """Why the independent readers cannot run here, or None when they can."""
    node = shutil.which("node")
    if node is None:
        return "node is not installed (Debian: nodejs; `make sysdeps`)"
    if not READER_SCRIPT.is_file():
        return f"the reader script {READER_SCRIPT} is missing"
    if not C2PA_WASM_PACKAGE.is_file() or not EXIFTOOL_SCRIPT.is_file():
        return f"{NODE_MODULES} has no c2pa-wasm / exiftool-vendored.pl (run `make install`)"
    version = json.loads(C2PA_WASM_PACKAGE.read_text()).get("version")
    if version != C2PA_WASM_VERSION:
        return f"c2pa-wasm {version} is installed, {C2PA_WASM_VERSION} is pinned (run `make install`)"
    if shutil.which("perl") is None:
        return "perl is not installed (ExifTool needs it)"
    return None


# --------------------------------------------------------------------------- c2pa-wasm

@dataclass(frozen=True)
class SidecarItem:
    """A manifest store kept beside its asset: one file (``path``) or a collection (``members``)."""

    sidecar: Path
    path: Path | None = None
    members: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Binding:
    """The hard binding of a sidecar, checked against the asset by the reader script."""

    kind: str | None
    ok: bool
    changed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    detail: str | None = None


@dataclass(frozen=True)
class WasmReading:
    """What c2pa-wasm made of one file (or one sidecar with its asset).

    For an embedded manifest, ``state`` and the codes are c2pa-wasm's own ("Absent" when the file
    holds no manifest store, as c2pa-python's reader is read by soundstage). For a sidecar, c2pa-wasm
    read the manifest store alone: its hard-binding result concerns the ``.c2pa`` bytes and is
    replaced by ``binding`` (the script's check against the asset); every other code is its own.
    """

    path: Path | None
    mime: str | None
    store: dict[str, Any] = field(repr=False)
    assertion_labels: tuple[str, ...] = ()
    sidecar: Path | None = None
    binding: Binding | None = None
    absent: bool = False  # no manifest store at all (c2pa-rs: JumbfNotFound / ManifestNotFound)

    @property
    def active_manifest(self) -> str | None:
        return self.store.get("active_manifest")

    def _results(self) -> dict[str, Any]:
        return (self.store.get("validation_results") or {}).get("activeManifest") or {}

    def _own(self, entries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.sidecar is None:
            return list(entries)
        return [e for e in entries if not _is_hard_binding_entry(e)]

    def _binding_failures(self) -> list[str]:
        if self.binding is None or self.binding.ok:
            return []
        kind = (self.binding.kind or "").split("__")[0]
        return [_BINDING_MISMATCH.get(kind, "assertion.dataHash.mismatch")]

    @property
    def status_codes(self) -> tuple[str, ...]:
        """The top-level validation_status codes."""
        codes = [str(e.get("code")) for e in self._own(self.store.get("validation_status") or [])]
        return tuple(codes + self._binding_failures())

    @property
    def failure_codes(self) -> tuple[str, ...]:
        codes = [str(e.get("code")) for e in self._own(self._results().get("failure") or [])]
        return tuple(codes + self._binding_failures())

    @property
    def success_codes(self) -> tuple[str, ...]:
        return tuple(str(e.get("code")) for e in self._own(self._results().get("success") or []))

    @property
    def state(self) -> str:
        if self.absent:
            return "Absent"
        if self.sidecar is None:
            return str(self.store.get("validation_state") or "Invalid")
        if set(self.failure_codes) - _NOT_INVALIDATING:
            return "Invalid"
        return "Trusted" if "signingCredential.trusted" in self.success_codes else "Valid"


def _is_hard_binding_entry(entry: dict[str, Any]) -> bool:
    url = str(entry.get("url") or "")
    label = url.rsplit("/", 1)[-1].split("__")[0]
    return "/c2pa.assertions/" in url and label.startswith(_HARD_BINDINGS)


def read_with_c2pa_wasm(items: Sequence[Path | SidecarItem], *, trust_anchors: Sequence[bytes] = (),
                        now: datetime | None = None, timeout: float = TIMEOUT_S) -> list[WasmReading]:
    """Read every item with c2pa-wasm in one Node process (the module is compiled once).

    ``trust_anchors`` (PEM) go into c2pa-rs's settings as user anchors with trust checking on, as
    soundstage does for its production CA; ``now`` moves the reader's clock (expiry tests).
    A file the reader cannot parse raises ParseError naming it."""
    reason = missing()
    if reason:
        raise BackendError(f"the independent reader cannot run: {reason}")
    files: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, SidecarItem):
            for path in (item.sidecar, item.path, *item.members):
                if path is not None and not Path(path).is_file():
                    raise NotFoundError(f"{path} does not exist")
            files.append({"sidecar": str(item.sidecar), "path": str(item.path) if item.path else None,
                          "members": [str(m) for m in item.members]})
        else:
            if not Path(item).is_file():
                raise NotFoundError(f"{item} does not exist")
            files.append({"path": str(item)})
    request: dict[str, Any] = {"files": files, "settings": None, "now": None}
    if trust_anchors:
        pem = "\n".join(a.decode("ascii").strip() for a in trust_anchors) + "\n"
        request["settings"] = {"trust": {"user_anchors": pem}, "verify": {"verify_trust": True}}
    if now is not None:
        moment = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
        request["now"] = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        done = subprocess.run(["node", str(READER_SCRIPT)], input=json.dumps(request), capture_output=True,
                              text=True, timeout=timeout, cwd=REPO_ROOT, env=_node_env())
    except subprocess.TimeoutExpired as exc:
        raise BackendError(f"c2pa-wasm took over {timeout:g} s to read {len(files)} file(s)") from exc
    if done.returncode != 0:
        raise BackendError(f"the c2pa-wasm reader failed: {' '.join(done.stderr.split())[:500]}")
    reply = json.loads(done.stdout)
    version = (reply.get("reader") or {}).get("version")
    if version != C2PA_WASM_VERSION:
        raise BackendError(f"the reader reports c2pa-wasm {version}, not {C2PA_WASM_VERSION}")
    readings = []
    for result in reply["results"]:
        if "error" in result:
            raise ParseError(f"c2pa-wasm could not read it: {result['error']}",
                             source=Path(result.get("sidecar") or result.get("path") or "?").name)
        binding = result.get("binding")
        readings.append(WasmReading(
            path=Path(result["path"]) if result.get("path") else None, mime=result.get("mime"),
            store=result["store"], assertion_labels=tuple(result.get("assertion_labels") or ()),
            absent=bool(result.get("absent")),
            sidecar=Path(result["sidecar"]) if result.get("sidecar") else None,
            binding=Binding(kind=binding.get("kind"), ok=bool(binding.get("ok")),
                            changed=tuple(binding.get("changed") or ()), missing=tuple(binding.get("missing") or ()),
                            unexpected=tuple(binding.get("unexpected") or ()), detail=binding.get("detail"))
            if binding is not None else None))
    return readings


def _node_env() -> dict[str, str]:
    """Node without the caller's NODE_OPTIONS / NODE_PATH: the reader resolves only node_modules here."""
    return {k: v for k, v in os.environ.items() if k not in ("NODE_OPTIONS", "NODE_PATH")}


# --------------------------------------------------------------------------- ExifTool

@dataclass(frozen=True)
class JumbfManifest:
    label: str
    kind: str  # c2ma (standard manifest) or c2um (update manifest)
    assertions: tuple[str, ...]
    has_claim: bool
    has_signature: bool


@dataclass(frozen=True)
class JumbfListing:
    """The C2PA boxes ExifTool found, in file order. The active manifest is the last one (C2PA 2.2 11.1.4.3)."""

    version: str
    store_found: bool
    manifests: tuple[JumbfManifest, ...] = ()

    @property
    def active(self) -> JumbfManifest | None:
        return self.manifests[-1] if self.manifests else None


def exiftool_version() -> tuple[int, ...]:
    done = _exiftool("-ver")
    return tuple(int(p) for p in done.stdout.strip().split("."))


def exiftool_jumbf(path: Path) -> JumbfListing:
    """The manifest store's boxes as ExifTool's own JUMBF parser sees them (labels and box types)."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"{path} does not exist")
    done = _exiftool("-j", "-a", "-G1:4", "-JUMBF:all", str(path))
    entries = json.loads(done.stdout)[0]
    version = _exiftool("-ver").stdout.strip()
    boxes: list[list[str | None]] = []  # [type, label] in file order
    for key, value in entries.items():
        tag = key.rsplit(":", 1)[-1]
        if not key.startswith("JUMBF:"):
            continue
        if tag == "JUMDType":
            boxes.append([str(value), None])
        elif tag == "JUMDLabel" and boxes and boxes[-1][1] is None:
            boxes[-1][1] = str(value)
    manifests: list[JumbfManifest] = []
    store_found = False
    current: dict[str, Any] | None = None
    for box_type, label in boxes:
        code = _box_code(box_type)
        if code == "c2pa":
            store_found = True
        elif code in ("c2ma", "c2um"):
            if current is not None:
                manifests.append(_manifest(current))
            current = {"label": label or "", "kind": code, "assertions": [], "in_store": False, "claim": False,
                       "signature": False}
        elif current is None:
            continue
        elif code == "c2as":
            current["in_store"] = True
        elif code == "c2cl":
            current["in_store"], current["claim"] = False, True
        elif code == "c2cs":
            current["in_store"], current["signature"] = False, True
        elif current["in_store"] and label:
            current["assertions"].append(label)
    if current is not None:
        manifests.append(_manifest(current))
    return JumbfListing(version, store_found, tuple(manifests))


def _manifest(current: dict[str, Any]) -> JumbfManifest:
    return JumbfManifest(current["label"], current["kind"], tuple(current["assertions"]), current["claim"],
                         current["signature"])


def _box_code(box_type: str) -> str:
    match = re.match(r"^\((\w{4})\)", box_type)
    return match.group(1) if match else box_type


def _exiftool(*args: str) -> subprocess.CompletedProcess:
    reason = missing()
    if reason:
        raise BackendError(f"ExifTool cannot run: {reason}")
    try:
        done = subprocess.run(["perl", str(EXIFTOOL_SCRIPT), *args], capture_output=True, text=True,
                              timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise BackendError(f"ExifTool took over {TIMEOUT_S} s") from exc
    if done.returncode != 0:
        raise BackendError(f"ExifTool failed: {' '.join(done.stderr.split())[:500]}")
    return done
