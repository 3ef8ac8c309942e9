"""Credentials and signing keys for tests, benchmarks and the demo's helpers.

``token_for(ws, "Lena Ortiz")`` issues (once per production and person) a real credential the way
the CLI does: the production's first one goes to a crew member who may issue credentials and
becomes the identity root; every later one is certified by that issuer's key. ``signer_for``
gives the person's signing key, as a request presenting that credential would derive it.
"""

from __future__ import annotations

from datetime import timedelta

from soundstage.domain.permissions import ISSUER_ROLES
from soundstage.services import auth_service
from soundstage.services.people_service import add_crew, list_people
from soundstage.services.workspace import production_summary

#: the crew member added to issue credentials in a production that has nobody who may
OWNER = "Production Owner"
#: production id -> {person id: token}
_ISSUED: dict[str, dict[str, str]] = {}


def _person(ws, ref: str) -> dict:
    crew = list_people(ws, "crew")
    match = [p for p in crew if p["id"] == ref] or [p for p in crew if p["name"].casefold() == ref.casefold()]
    if not match:
        raise LookupError(f"no crew member {ref!r}: add them first")
    return match[0]


def _issuer(ws, issued: dict[str, str]):
    """The signing key that certifies the next credential: a holder of an issuing role who already
    has one, or (in a production without credentials) the first such crew member, as its root - or,
    when there is none, an owner added the way ``soundstage init`` adds the producer who ran it."""
    for person_id, token in issued.items():
        if set(_person(ws, person_id)["roles"]) & ISSUER_ROLES:
            return auth_service.signer_for_token(ws, token)
    if _has_root(ws):
        raise LookupError("this production's credentials were issued outside soundstage.testing.identity")
    candidates = [p for p in list_people(ws, "crew") if set(p["roles"]) & ISSUER_ROLES]
    root = candidates[0] if candidates else add_crew(ws, OWNER, ["producer"], actor=OWNER)
    issued[root["id"]] = auth_service.create_token(ws, root["id"], expires_in=timedelta(days=2),
                                                   actor="setup", label="test root")["token"]
    return auth_service.signer_for_token(ws, issued[root["id"]])


def new_token(ws, ref: str, *, expires_in: timedelta = timedelta(days=1), label: str = "") -> dict:
    """A fresh credential for crew member ``ref`` (``auth_service.create_token``'s answer), certified
    by the production's issuer (see ``_issuer``)."""
    issued = _ISSUED.setdefault(ws.production_id, {})
    issuer = _issuer(ws, issued)
    return auth_service.create_token(ws, ref, expires_in=expires_in, actor="setup", label=label, issuer=issuer)


def token_for(ws, ref: str) -> str:
    """A valid credential of crew member ``ref`` (name or id), issued on first use."""
    issued = _ISSUED.setdefault(ws.production_id, {})
    person = _person(ws, ref)
    if person["id"] not in issued:
        if not (set(person["roles"]) & ISSUER_ROLES) or issued or _has_root(ws):
            issuer = _issuer(ws, issued)
            if person["id"] not in issued:
                issued[person["id"]] = auth_service.create_token(ws, person["id"], expires_in=timedelta(days=2),
                                                                 actor="setup", issuer=issuer)["token"]
        else:
            issued[person["id"]] = auth_service.create_token(ws, person["id"], expires_in=timedelta(days=2),
                                                             actor="setup", label="test root")["token"]
    return issued[person["id"]]


def signer_for(ws, ref: str):
    """Crew member ``ref``'s signing key, derived from their credential."""
    return auth_service.signer_for_token(ws, token_for(ws, ref))


def _has_root(ws) -> bool:

    return production_summary(ws).get("identity_root") is not None
