"""People of a production: crew members with their roles, and finding anyone by id or name.

Every change is one transaction with its audit event; performers are ``talent_service``'s.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from soundstage.clock import utcnow
from soundstage.domain.permissions import SINGLE_USER_PREFIX
from soundstage.domain.safeguards import Role
from soundstage.errors import (
    AlreadyExistsError,
    InputError,
    NotFoundError,
    SpecError,
)
from soundstage.safeguards import audit
from soundstage.services.workspace import Workspace
from soundstage.store.models import Person

CREW_ROLES = tuple(r.value for r in Role)




def find_person(s: Session, ws: Workspace, ref: str, kind: str | None = None) -> Person:
    """By id or by exact name (case-insensitive)."""
    person = s.get(Person, ref)
    if person is None or person.production_id != ws.production_id:
        q = select(Person).where(Person.production_id == ws.production_id)
        matches = [p for p in s.scalars(q) if p.name.casefold() == ref.casefold()]
        if kind:
            matches = [p for p in matches if p.kind == kind]
        if len(matches) > 1:
            raise InputError(f"{ref!r} names more than one person; use the id",
                             hint=", ".join(f"{p.id} ({p.kind})" for p in matches))
        person = matches[0] if matches else None
    if person is None or (kind and person.kind != kind):
        raise NotFoundError(f"no {kind or 'person'} {ref!r} in this production",
                            hint="add one with: soundstage talent add / soundstage crew add")
    return person


def add_crew(ws: Workspace, name: str, roles: list[str], *, actor: str) -> dict:
    name = name.strip()
    if not name:
        raise InputError("a crew member needs a name")
    if name.casefold().startswith(SINGLE_USER_PREFIX):
        raise InputError(f"{SINGLE_USER_PREFIX!r} names the CLI's single-user mode, not a person")
    bad = [r for r in roles if r not in CREW_ROLES]
    if bad:
        raise SpecError(f"unknown role {bad[0]!r}", field="roles", hint="roles: " + ", ".join(CREW_ROLES))
    with ws.unit_of_work() as s:
        _refuse_duplicate_name(s, ws, name, "crew")
        person = Person(id="p-" + uuid.uuid4().hex[:10], production_id=ws.production_id, name=name, kind="crew",
                        roles=sorted(set(roles)), details={}, created_at=utcnow())
        s.add(person)
        s.flush()
        audit.append(s, production_id=ws.production_id, actor=actor, action="crew.added", subject=person.id,
                     payload={"name": name, "roles": person.roles})
        return person_to_dict(person)


def _refuse_duplicate_name(s: Session, ws: Workspace, name: str, kind: str) -> None:
    q = select(Person).where(Person.production_id == ws.production_id, Person.kind == kind)
    if any(p.name.casefold() == name.casefold() for p in s.scalars(q)):
        raise AlreadyExistsError(f"a {kind} member named {name!r} already exists")


def person_to_dict(p: Person) -> dict:
    return {"id": p.id, "name": p.name, "kind": p.kind, "roles": list(p.roles or []), **(p.details or {})}


def list_people(ws: Workspace, kind: str | None = None) -> list[dict]:
    with ws.reading() as s:
        q = select(Person).where(Person.production_id == ws.production_id).order_by(Person.created_at)
        if kind:
            q = q.where(Person.kind == kind)
        return [person_to_dict(p) for p in s.scalars(q)]
