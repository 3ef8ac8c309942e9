"""Who may do what: the one permission matrix of soundstage (data), for every interface.

The REST API, the web app and the CLI all check an authenticated person against this table
(``check_allowed``); the guard reads it too, to decide who may sign a consent or an approval. It
is the only place where a role is granted an action. Finer rules that depend on the data (a
representative acts only for their own performers; nobody approves their own request) are
enforced by the service layer and the scope helpers here.

A principal is anything with ``name`` and ``roles`` (and ``represents`` for the scope helpers):
``soundstage.services.auth_service.Principal``.
"""

from __future__ import annotations

from typing import Iterable

from soundstage.errors import PermissionDeniedError

PRODUCER = "producer"
VFX = "vfx_supervisor"
RIGHTS = "rights_clearance"
LEGAL = "legal"
REP = "performer_rep"
ALL_ROLES = frozenset({PRODUCER, VFX, RIGHTS, LEGAL, REP})
STAFF = frozenset({PRODUCER, VFX, RIGHTS, LEGAL})

#: action -> roles allowed to attempt it. "own" rows are narrowed further to the representative's
#: performers by the scope helpers below (and by the service layer).
PERMISSIONS: dict[str, frozenset[str]] = {
    "production.read": ALL_ROLES,
    "script.read": STAFF,
    "script.import": frozenset({PRODUCER}),
    "script.edit": frozenset({PRODUCER}),                              # CLI only
    "script.assist": frozenset({PRODUCER}),  # a guarded job that sends script pages to a registered chat model
    "assets.read": ALL_ROLES,            # REP: only assets tied to their performers
    "assets.add": frozenset({PRODUCER, VFX}),                          # PUT /api/plates/{name}; CLI asset add
    "people.read": ALL_ROLES,            # REP: only their performers
    "crew.add": frozenset({PRODUCER, LEGAL}),
    "performers.add": frozenset({PRODUCER, RIGHTS}),
    "performers.enroll": frozenset({RIGHTS, REP}),                     # CLI only; REP: own performers
    "consents.read": frozenset({PRODUCER, RIGHTS, LEGAL, REP}),     # REP: own performers
    "consents.grant": frozenset({RIGHTS, LEGAL, REP}),               # REP: own performers
    "consents.revoke": frozenset({RIGHTS, LEGAL, REP}),              # REP: own performers
    "consents.suspend": frozenset({RIGHTS, LEGAL, REP}),             # REP: own performers
    "models.read": ALL_ROLES,
    "models.add": frozenset({VFX, RIGHTS}),
    "policy.check": STAFF,
    "previz.read": STAFF,                                              # CLI only
    "previz.plan": frozenset({PRODUCER, VFX}),                         # CLI only
    "jobs.submit": frozenset({PRODUCER, VFX}),
    "jobs.read": ALL_ROLES,              # REP: jobs naming their performers
    "jobs.review": ALL_ROLES,            # REP: a job's inputs (its source plate), preview and outputs, only
                                         # for jobs naming their performers (issue 15)
    "jobs.decide": ALL_ROLES,            # the service checks the role is held, needed, and not self-approval
    "jobs.cancel": frozenset({PRODUCER, VFX}),
    "jobs.override": frozenset({PRODUCER, VFX}),                       # CLI only
    "audit.read": frozenset({PRODUCER, RIGHTS, LEGAL}),
    "disclosure.read": frozenset({PRODUCER, RIGHTS, LEGAL}),
    "verify.file": ALL_ROLES,
    "keys.manage": frozenset({PRODUCER}),                              # CLI only
    "tokens.issue": frozenset({PRODUCER, LEGAL}),                      # CLI only: issue, list, revoke credentials
}

#: the roles whose holders certify other people's keys (issue credentials): those who add crew
ISSUER_ROLES = PERMISSIONS["tokens.issue"]

#: signed consent actions -> the action of the matrix that allows them
CONSENT_ACTIONS = {"granted": "consents.grant", "revoked": "consents.revoke", "suspended": "consents.suspend",
                   "resumed": "consents.suspend"}

#: actor prefix of the CLI's single-user mode (no credential, no key: never signs, never final)
SINGLE_USER_PREFIX = "single-user:"


def allowed_actions(principal) -> list[str]:
    return sorted(a for a, roles in PERMISSIONS.items() if principal.roles & roles)


def check_allowed(principal, action: str) -> None:
    roles = PERMISSIONS[action]
    if not principal.roles & roles:
        raise PermissionDeniedError(
            f"{principal.name} ({', '.join(sorted(principal.roles)) or 'no role'}) may not {action}",
            hint="needs one of: " + ", ".join(sorted(roles)))


def is_scoped_rep(principal) -> bool:
    """A representative without a staff role sees only their own performers."""
    return REP in principal.roles and not principal.roles & STAFF


def check_performer_scope(principal, performer_ids: Iterable[str], what: str) -> None:
    if is_scoped_rep(principal) and not set(performer_ids) & principal.represents:
        raise PermissionDeniedError(f"{principal.name} does not represent the performer of {what}")


def may_act_for_performer(roles: Iterable[str], person_id: str, representatives: Iterable[str], action: str) -> bool:
    """A consent action on one performer: a staff role the matrix allows, or the performer's own
    representative (the matrix's REP rows are "own performers")."""
    held = set(roles) & PERMISSIONS[action]
    return bool(held - {REP}) or (REP in held and person_id in set(representatives))
