// An independent Content Credentials reader for the test suite: @contentauth/c2pa-wasm (a
// WebAssembly build of c2pa-rs, compiled and shipped by the C2PA project) under Node.
//
// Request (JSON on stdin):
//   {"files": [{"path": "...", "mime": "image/png"},
//              {"path": "asset.png", "sidecar": "asset.png.c2pa"},             // a per-file sidecar
//              {"sidecar": "plate.c2pa", "path": "plate.sha256", "members": ["plate.1001.exr", ...]}], // a sequence
//    "settings": {"trust": {"user_anchors": PEM}, "verify": {"verify_trust": true}} | null,
//    "now": "2031-01-01T00:00:00Z" | null}
// Reply (JSON on stdout):
//   {"reader": {"name": "@contentauth/c2pa-wasm", "version": "0.13.3"},
//    "results": [{"path": "...", "mime": "...", "store": {...}, "assertion_labels": [...],
//                 "binding": {...} (sidecars only)} | {"path": ..., "absent": true} (no manifest at all)
//                | {"path": ..., "error": "..."}]}
// The store is WasmReader.json(): validation_state, validation_status, validation_results, manifests;
// assertion_labels are the active manifest's assertions as stored (crJSON: hard bindings included).
//
// c2pa-wasm 0.13.3 has no reader for a manifest store *with* a separate asset (only fromBytes,
// fromBlob and fromBlobFragment, the last for fragmented MP4). A sidecar is therefore read alone
// (format application/c2pa): c2pa-wasm checks the claim signature, the certificate chain and trust,
// and every assertion's hashed URI, but the hard binding can only fail there (it hashes the .c2pa
// bytes). This script then checks the hard binding against the asset itself, by the spec (C2PA 2.2
// 9.2: c2pa.hash.data over the bytes outside the exclusions; c2pa.hash.collection.data, each member
// file's hash), using the assertion c2pa-wasm parsed and authenticated: "binding" in the reply. A
// sequence bound through a frame list (soundstage's sidecars: a data hash over "<stem>.sha256" in the
// sha256sum format) also has every member frame checked against that list.
// "now" moves the module's clock (Date) before anything is read, for certificate-expiry tests.
//
// For a person: node c2pa_read.mjs FILE [--sidecar FILE.c2pa] [--mime TYPE] [--anchors CA.pem] [--now ISO-TIME]

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, resolve } from "node:path";

const require = createRequire(import.meta.url);

function parseArgs(argv) {
  const request = { files: [], settings: null, now: null };
  let mime = null;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      i += 1;
      return argv[i];
    };
    if (arg === "--mime") mime = value();
    else if (arg === "--anchors") {
      request.settings = { trust: { user_anchors: readFileSync(value(), "utf8") }, verify: { verify_trust: true } };
    } else if (arg === "--now") request.now = value();
    else if (arg === "--sidecar") {
      if (!request.files.length) throw new Error("--sidecar follows the file it belongs to");
      request.files[request.files.length - 1].sidecar = value();
    }
    else if (arg.startsWith("--")) throw new Error(`unknown option ${arg}`);
    else request.files.push({ path: arg, mime });
  }
  return request;
}

function readStdin() {
  return readFileSync(0, "utf8");
}

function moveClock(iso) {
  const fixed = Date.parse(iso);
  if (Number.isNaN(fixed)) throw new Error(`--now ${iso} is not a date`);
  const RealDate = Date;
  const offset = fixed - RealDate.now();
  class MovedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + offset);
      else super(...args);
    }
    static now() {
      return RealDate.now() + offset;
    }
  }
  globalThis.Date = MovedDate;
}

const MIME_BY_SUFFIX = {
  ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".mp4": "video/mp4", ".m4v": "video/mp4",
  ".mov": "video/quicktime", ".pdf": "application/pdf", ".c2pa": "application/c2pa", ".tif": "image/tiff",
  ".tiff": "image/tiff", ".webp": "image/webp", ".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4",
};

function guessMime(path) {
  const dot = path.lastIndexOf(".");
  return MIME_BY_SUFFIX[dot >= 0 ? path.slice(dot).toLowerCase() : ""] || "application/octet-stream";
}

const HASH_ALGS = { sha256: "sha256", sha384: "sha384", sha512: "sha512" };

function decodeBytes(value) {
  // crJSON writes byte strings as b64'...'
  if (typeof value !== "string") return null;
  const match = /^b64'(.*)'$/.exec(value);
  return Buffer.from(match ? match[1] : value, "base64");
}

function digest(alg, bytes) {
  const name = HASH_ALGS[alg || "sha256"];
  if (!name) throw new Error(`unsupported hash algorithm ${alg}`);
  return createHash(name).update(bytes).digest();
}

function activeAssertions(crJson, activeLabel) {
  const manifests = crJson.manifests || [];
  const manifest = manifests.find((m) => m.label === activeLabel) || manifests[manifests.length - 1];
  return manifest ? manifest.assertions || {} : {};
}

function findAssertion(assertions, base) {
  const label = Object.keys(assertions).find((key) => key === base || key.startsWith(`${base}__`));
  return label ? { label, data: assertions[label] } : null;
}

function dataHashBinding(found, assetPath) {
  const bytes = readFileSync(assetPath);
  const exclusions = [...(found.data.exclusions || [])].sort((a, b) => a.start - b.start);
  const parts = [];
  let at = 0;
  for (const { start, length } of exclusions) {
    if (start < at || start + length > bytes.length) return { kind: found.label, ok: false, detail: "bad exclusion range" };
    parts.push(bytes.subarray(at, start));
    at = start + length;
  }
  parts.push(bytes.subarray(at));
  const want = decodeBytes(found.data.hash);
  const got = digest(found.data.alg, Buffer.concat(parts));
  return { kind: found.label, ok: Boolean(want) && got.equals(want), detail: want ? null : "no hash" };
}

function collectionBinding(found, sidecarPath, members) {
  const byName = new Map((members || []).map((path) => [basename(path), path]));
  const root = dirname(resolve(sidecarPath));
  const changed = [];
  const missing = [];
  const listed = new Set();
  for (const entry of found.data.uris || []) {
    const uri = String(entry.uri || "");
    listed.add(basename(uri));
    const path = byName.get(basename(uri)) || resolve(root, uri);
    let bytes;
    try {
      bytes = readFileSync(path);
    } catch {
      missing.push(uri);
      continue;
    }
    const want = decodeBytes(entry.hash);
    if (!want || !digest(entry.alg || found.data.alg, bytes).equals(want)) changed.push(uri);
  }
  const unexpected = [...byName.keys()].filter((name) => !listed.has(name));
  return { kind: found.label, ok: !changed.length && !missing.length && !unexpected.length && listed.size > 0,
    changed, missing, unexpected };
}

function frameListBinding(binding, listPath, members) {
  const listed = new Map();
  for (const line of readFileSync(listPath, "utf8").split("\n")) {
    const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (match) listed.set(basename(match[2]), match[1]);
  }
  const byName = new Map(members.map((path) => [basename(path), path]));
  const changed = [];
  const missing = [];
  for (const [name, want] of listed) {
    const path = byName.get(name);
    if (!path) missing.push(name);
    else if (createHash("sha256").update(readFileSync(path)).digest("hex") !== want) changed.push(name);
  }
  const unexpected = [...byName.keys()].filter((name) => !listed.has(name));
  return { ...binding, ok: binding.ok && listed.size > 0 && !changed.length && !missing.length && !unexpected.length,
    frames: listed.size, changed, missing, unexpected };
}

function sidecarBinding(assertions, file) {
  const collection = findAssertion(assertions, "c2pa.hash.collection.data");
  if (collection) return collectionBinding(collection, file.sidecar, file.members);
  const data = findAssertion(assertions, "c2pa.hash.data");
  if (data && file.path) {
    const binding = dataHashBinding(data, file.path);
    // a frame list (sha256sum format: "<hex>  <name>" per line) bound by the data hash: check the frames
    return file.members && file.members.length ? frameListBinding(binding, file.path, file.members) : binding;
  }
  const other = Object.keys(assertions).filter((key) => key.startsWith("c2pa.hash."));
  return { kind: other.join(",") || null, ok: false, detail: "no hard binding this reader can check against the asset" };
}

async function readOne(c2pa, file, settings) {
  if (file.sidecar) {
    const reader = await c2pa.WasmReader.fromBytes("application/c2pa", new Uint8Array(readFileSync(file.sidecar)), settings);
    try {
      const store = JSON.parse(reader.json());
      const assertions = activeAssertions(JSON.parse(reader.crJson()), store.active_manifest);
      return { path: file.path || null, sidecar: file.sidecar, mime: "application/c2pa", store,
        assertion_labels: Object.keys(assertions), binding: sidecarBinding(assertions, file) };
    } finally {
      reader.free();
    }
  }
  const mime = file.mime || guessMime(file.path);
  const reader = await c2pa.WasmReader.fromBytes(mime, new Uint8Array(readFileSync(file.path)), settings);
  try {
    const store = JSON.parse(reader.json());
    const assertions = activeAssertions(JSON.parse(reader.crJson()), store.active_manifest);
    return { path: file.path, mime, store, assertion_labels: Object.keys(assertions) };
  } finally {
    reader.free();
  }
}

async function main() {
  const argv = process.argv.slice(2);
  const request = argv.length ? parseArgs(argv) : JSON.parse(readStdin());
  if (request.now) moveClock(request.now);
  // loaded only now, so the module sees the moved clock from its first call
  const c2pa = await import("@contentauth/c2pa-wasm");
  const version = JSON.parse(readFileSync(require.resolve("@contentauth/c2pa-wasm/package.json"), "utf8")).version;
  c2pa.initSync({ module: readFileSync(require.resolve("@contentauth/c2pa-wasm/c2pa.wasm")) });
  const settings = request.settings ? JSON.stringify(request.settings) : null;
  const results = [];
  for (const file of request.files || []) {
    try {
      results.push(await readOne(c2pa, file, settings));
    } catch (error) {
      const text = (error && error.message ? error.message : String(error)).split(/\s+/).join(" ");
      if (/JumbfNotFound|ManifestNotFound/.test(text)) {
        results.push({ path: file.path || null, sidecar: file.sidecar || null, absent: true, store: {} });
      } else {
        results.push({ path: file.path || null, sidecar: file.sidecar || null, error: text });
      }
    }
  }
  process.stdout.write(JSON.stringify({ reader: { name: "@contentauth/c2pa-wasm", version }, results }));
}

main().catch((error) => {
  process.stderr.write(`c2pa_read: ${error && error.message ? error.message : error}\n`);
  process.exit(2);
});
