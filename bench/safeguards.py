"""Safeguards benchmarks: policy decisions per second, revocation reaching 100,000 assets, and
``audit verify`` proving 100,000 events and assets.

    .venv/bin/python bench/safeguards.py [--assets 100000] [--postgres URL] [--only audit] [--json]

Each number comes with a peer measured in the same run on the same data:
- a policy decision vs reading the same job spec from YAML (what any caller pays anyway);
- revocation (one recursive query + one UPDATE in the ledger) vs a Python breadth-first walk over
  the same lineage edges already loaded in memory (what an application-side walk would cost);
- ``audit verify`` (hash chain, replay of every event into the state it describes, every safeguard
  row and every stored file's presence and size checked against it) vs a plain sequential read of
  the same tables (what merely looking at the ledger costs).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_policy(n: int = 2000) -> dict:
    import yaml

    from soundstage.domain.safeguards import (
        Consent,
        ConsentKind,
        ConsentScope,
        JobSpec,
        ModelCard,
        OperationKind,
        Performer,
        load_job_spec,
    )
    from soundstage.safeguards.policy import PolicyEngine
    from soundstage.safeguards.policy.engine import build_context

    now = datetime.now(timezone.utc)
    engine = PolicyEngine.default()
    model = ModelCard(id="m", name="m", training_data="licensed", evidence="contract", trained_model=True,
                      runs_in_production_env=True, licence="x", weights_sha256="ab" * 32, stores_inputs=False,
                      trains_on_inputs=False)
    maya = Performer(id="p1", name="Maya", union_status="sag-aftra")
    consent = Consent(id="c1", performer_id="p1", production_id="prod", kind=ConsentKind.DIGITAL_ALTERATION,
                      scope=ConsentScope(operations=(OperationKind.LIKENESS_DEAGE,), max_alteration=0.5),
                      description="De-ageing of Maya by thirty years in the flashback scene five only",
                      valid_from=now - timedelta(days=1), signed_separately=True, representation="union",
                      document_sha256="cd" * 32)
    ops = [OperationKind.IDEATION, OperationKind.STORYBOARD, OperationKind.BACKGROUND_ELEMENT,
           OperationKind.LIKENESS_DEAGE, OperationKind.SET_EXTENSION, OperationKind.CLEANUP,
           OperationKind.CONCEPT_ART, OperationKind.KEY_VISUAL, OperationKind.LIKENESS_COSMETIC,
           OperationKind.GENERATED_CHARACTER]
    jobs = []
    for i in range(n):
        op = ops[i % len(ops)]
        likeness = op.value.startswith("likeness")
        jobs.append(JobSpec(id=f"j{i}", production_id="prod", operation=op, requested_by="x", model_id="m",
                            prompt="a rainy street at dusk in the style of nobody in particular",
                            performers=("p1",) if likeness else (), alteration_amount=0.3 if likeness else 0.0,
                            deliverable="final" if i % 3 == 0 else "temporary",
                            exception_claim="cosmetic" if op is OperationKind.LIKENESS_COSMETIC else None))
    contexts = [build_context(j, model=model, performers=[maya], consents=[consent], now=now) for j in jobs]
    texts = [yaml.safe_dump(j.to_dict()) for j in jobs]

    def decide_all() -> None:
        for j, c in zip(jobs, contexts):
            engine.decide(j, c)

    def decide_with_context() -> None:
        for j in jobs:
            engine.decide(j, build_context(j, model=model, performers=[maya], consents=[consent], now=now))

    def parse_all() -> None:
        for t in texts:
            load_job_spec(t)

    t_decide = best(decide_all)
    t_full = best(decide_with_context)
    t_parse = best(parse_all, repeat=3)
    outcomes = statistics.mode(engine.decide(j, c).outcome.value for j, c in zip(jobs, contexts))
    return {"jobs": n, "decisions_per_s": n / t_decide, "decisions_with_consent_check_per_s": n / t_full,
            "job_spec_yaml_parses_per_s": n / t_parse, "ratio_decision_vs_parse": t_decide / t_parse,
            "most_common_outcome": outcomes}


def build_lineage(ws, n_assets: int, consent_id: str) -> tuple[int, list[tuple[int, int]]]:
    """n assets: 100 roots relying on the consent, each the top of a tree of derived assets."""
    from sqlalchemy import insert

    from soundstage.safeguards.guard import new_asset_id
    from soundstage.store.models import Asset, AssetConsent, AssetEdge

    now = datetime.now(timezone.utc)
    ids = [new_asset_id() for _ in range(n_assets)]
    roots = ids[:100]
    edges = []
    for i in range(100, n_assets):
        parent = ids[(i - 100) // 4 if i >= 400 else i % 100]  # 4-ary trees hanging off the roots
        edges.append((ids[i], parent))
    rows = [{"id": a, "production_id": ws.production_id, "sha256": f"{a:064x}"[-64:], "kind": "image",
             "media_type": "image/png", "name": f"frame_{k}.png", "size": 1, "status": "active", "job_id": None,
             "details": {"shot": f"{k % 40}A"}, "created_at": now} for k, a in enumerate(ids)]
    with ws.unit_of_work() as s:
        for start in range(0, len(rows), 10000):
            s.execute(insert(Asset), rows[start:start + 10000])
        for start in range(0, len(edges), 20000):
            s.execute(insert(AssetEdge), [{"child_id": c, "parent_id": p, "relation": "derived_from"}
                                          for c, p in edges[start:start + 20000]])
        s.execute(insert(AssetConsent), [{"asset_id": r, "consent_id": consent_id} for r in roots])
    return len(ids), edges


def bench_revocation(n_assets: int, database_url: str | None) -> dict:
    from collections import defaultdict, deque

    from soundstage.services import consent_service, people_service, talent_service
    from soundstage.services.workspace import init_workspace
    from soundstage.testing.identity import signer_for

    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(Path(tmp) / "bench", "Revocation bench", database_url=database_url)
        try:
            people_service.add_crew(ws, "Rights", ["rights_clearance"], actor="bench")
            performer = talent_service.add_performer(ws, "Maya", actor="bench")
            doc = Path(tmp) / "consent.pdf"
            doc.write_bytes(b"%PDF-1.4 consent")
            consent = consent_service.grant_consent(ws, performer["id"], kind="digital_alteration", operations=["likeness_deage"],
                                       description="De-ageing in the flashback, scene five, final cut only",
                                       signed_separately=True, representation="union", document=doc,
                                       signer=signer_for(ws, "Rights"))
            t0 = time.perf_counter()
            total, edges = build_lineage(ws, n_assets, consent["id"])
            t_build = time.perf_counter() - t0
            with ws.db.engine.connect() as conn:  # what autovacuum would have done after a bulk load
                conn.exec_driver_sql("ANALYZE")
                conn.commit()

            children = defaultdict(list)
            for c, p in edges:
                children[p].append(c)
            from soundstage.store.models import AssetConsent
            from sqlalchemy import select

            with ws.unit_of_work() as s:
                roots = [r.asset_id for r in s.scalars(select(AssetConsent))]

            def python_walk() -> int:
                seen = set(roots)
                queue = deque(roots)
                while queue:
                    for child in children[queue.popleft()]:
                        if child not in seen:
                            seen.add(child)
                            queue.append(child)
                return len(seen)

            t_walk = best(python_walk, repeat=3)
            t0 = time.perf_counter()
            report = consent_service.revoke_consent(ws, consent["id"], reason="bench", signer=signer_for(ws, "Rights"))
            t_revoke = time.perf_counter() - t0
            from sqlalchemy import func

            from soundstage.store.models import Asset

            with ws.unit_of_work() as s:
                quarantined = s.scalar(select(func.count()).select_from(Asset).where(Asset.status == "quarantined"))
            return {"database": "postgresql" if database_url else "sqlite", "assets": total,
                    "quarantined": quarantined, "listed": len(report["quarantined"]),
                    "revoke_s": t_revoke, "python_bfs_s": t_walk, "ratio_revoke_vs_bfs": t_revoke / t_walk,
                    "build_s": t_build}
        finally:
            ws.close()


def build_ledger_history(ws, n_assets: int) -> int:
    """n source assets, each written as the guard writes one (its row, its lineage edges, its
    ``asset.ingested`` event with the full content, chained) and each with its file in the store:
    100 roots, the rest 4-ary trees under them. Returns the number of events written."""
    import hashlib as _hashlib

    from sqlalchemy import insert, select

    from soundstage.safeguards import audit
    from soundstage.safeguards.guard import format_asset_id, new_asset_id
    from soundstage.store.models import Asset, AssetEdge, AuditEvent, AuditHead

    now = datetime.now(timezone.utc)
    at = audit.now_iso()
    ids = [new_asset_id() for _ in range(n_assets)]
    parents = {ids[i]: ids[(i - 100) // 4 if i >= 400 else i % 100] for i in range(100, n_assets)}
    rows, edges, events = [], [], []
    with ws.unit_of_work() as s:
        head = s.get(AuditHead, 1)
        seq, prev = head.seq, head.hash
        for k, asset_id in enumerate(ids):
            data = f"frame {k} of the bench production".encode()
            sha = _hashlib.sha256(data).hexdigest()
            path = ws.store.path_for(sha)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            details = {"scene": str(k % 60), "shot": f"{k % 40}A", "size": [64, 36]}
            parent = parents.get(asset_id)
            rows.append({"id": asset_id, "production_id": ws.production_id, "sha256": sha, "kind": "plate",
                         "media_type": "image/png", "name": f"frame_{k}.png", "size": len(data), "status": "active",
                         "job_id": None, "details": details, "created_at": now})
            if parent is not None:
                edges.append({"child_id": asset_id, "parent_id": parent, "relation": "derived_from"})
            payload = audit.canonical_json({"kind": "plate", "name": f"frame_{k}.png", "sha256": sha, "size": len(data),
                                            "parents": [format_asset_id(parent)] if parent else [],
                                            "media_type": "image/png", "details": details})
            seq += 1
            subject = format_asset_id(asset_id)
            digest = audit.event_hash(prev, seq, ws.production_id, at, "bench", "asset.ingested", subject, payload)
            events.append({"seq": seq, "production_id": ws.production_id, "at": at, "actor": "bench",
                           "action": "asset.ingested", "subject": subject, "payload": payload, "prev_hash": prev,
                           "hash": digest})
            prev = digest
        for start in range(0, n_assets, 10000):
            s.execute(insert(Asset), rows[start:start + 10000])
        for start in range(0, len(edges), 20000):
            s.execute(insert(AssetEdge), edges[start:start + 20000])
        for start in range(0, len(events), 10000):
            s.execute(insert(AuditEvent), events[start:start + 10000])
        head.seq, head.hash = seq, prev
        total = s.scalar(select(AuditHead.seq))
    return total


def bench_audit_verify(n_assets: int, database_url: str | None) -> dict:
    """``audit verify`` (chain + replay + every row and stored file proven) against a plain
    sequential read of the same tables, in the same run on the same data."""
    from sqlalchemy import select

    from soundstage.services.ledger import verify_audit
    from soundstage.services.workspace import init_workspace
    from soundstage.store.models import (
        Approval,
        Asset,
        AssetConsent,
        AssetEdge,
        AuditEvent,
        ConsentRecord,
        Job,
        ModelRecord,
        Person,
    )

    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(Path(tmp) / "bench", "Audit verify bench", database_url=database_url)
        try:
            t0 = time.perf_counter()
            events = build_ledger_history(ws, n_assets)
            t_build = time.perf_counter() - t0
            with ws.db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()

            def plain_read() -> int:
                # with the cyclic collector off, as verify runs: the peer gets the same advantage
                gc.disable()
                try:
                    n = 0
                    with ws.unit_of_work() as s:
                        for model in (AuditEvent, Asset, AssetEdge, AssetConsent, Person, ConsentRecord, ModelRecord,
                                      Approval, Job):
                            n += len(s.execute(select(model.__table__)).all())
                    return n
                finally:
                    gc.enable()

            report = verify_audit(ws)
            assert report.ok, report.problem
            assert not report.state.unprovable, report.state.unprovable[:3]
            t_read = best(plain_read, repeat=3)
            t_verify = best(lambda: verify_audit(ws), repeat=3)
            t_deep = best(lambda: verify_audit(ws, deep=True), repeat=1)
            return {"database": "postgresql" if database_url else "sqlite", "events": events,
                    "assets": n_assets, "rows_proven": report.state.rows, "files": report.state.files,
                    "verify_s": t_verify, "verify_deep_s": t_deep, "plain_read_s": t_read,
                    "ratio_verify_vs_read": t_verify / t_read, "ratio_deep_vs_read": t_deep / t_read,
                    "build_s": t_build}
        finally:
            ws.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--postgres", default=None, help="also run revocation on this (empty) PostgreSQL database")
    parser.add_argument("--only", choices=("policy", "revocation", "audit"), default=None,
                        help="run one of the benchmarks (default: all)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict = {}
    if args.only in (None, "policy"):
        results["policy"] = bench_policy()
    if args.only in (None, "revocation"):
        results["revocation"] = [bench_revocation(args.assets, None)]
        if args.postgres:
            results["revocation"].append(bench_revocation(args.assets, args.postgres))
    if args.only in (None, "audit"):
        results["audit_verify"] = [bench_audit_verify(args.assets, None)]
        if args.postgres:
            results["audit_verify"].append(bench_audit_verify(args.assets, args.postgres))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    if "policy" in results:
        p = results["policy"]
        print("| policy | per second |\n|---|---|")
        print(f"| decisions (context resolved) | {p['decisions_per_s']:,.0f} |")
        print(f"| decisions incl. consent check | {p['decisions_with_consent_check_per_s']:,.0f} |")
        print(f"| peer: job spec YAML parse | {p['job_spec_yaml_parses_per_s']:,.0f} |")
        print(f"| ratio decision / parse time | {p['ratio_decision_vs_parse']:.2f} |")
        print()
    if "revocation" in results:
        print("| revocation | assets | quarantined | revoke s | peer: in-memory BFS s | ratio |\n"
              "|---|---|---|---|---|---|")
        for r in results["revocation"]:
            print(f"| {r['database']} | {r['assets']:,} | {r['quarantined']:,} | {r['revoke_s']:.3f} | "
                  f"{r['python_bfs_s']:.3f} | {r['ratio_revoke_vs_bfs']:.1f} |")
        print()
    if "audit_verify" in results:
        print("| audit verify | events | assets (files) | rows proven | verify s | deep s | "
              "peer: plain read of the tables s | ratio | deep ratio |\n|---|---|---|---|---|---|---|---|---|")
        for r in results["audit_verify"]:
            print(f"| {r['database']} | {r['events']:,} | {r['assets']:,} ({r['files']:,}) | {r['rows_proven']:,} | "
                  f"{r['verify_s']:.2f} | {r['verify_deep_s']:.2f} | {r['plain_read_s']:.2f} | "
                  f"{r['ratio_verify_vs_read']:.1f} | {r['ratio_deep_vs_read']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
