"""One error tree for the whole of soundstage.

Every interface (CLI, REST API, web) maps these classes to its own codes in one
place, so a caller can tell "you gave me bad input" from "a safeguard said no"
from "something broke" without parsing messages.

    SoundstageError                 exit 1, HTTP 500 - something failed
    ├── InputError                  exit 2, HTTP 400 - the input is wrong; fix it and retry
    │   ├── ParseError              a file could not be read as what it claims to be
    │   ├── UnsafeInputError        hostile input refused (XML entities, decompression bombs, ...)
    │   ├── SpecError               HTTP 422 - a job spec / policy pack / edit file has a bad field
    │   ├── NotFoundError           HTTP 404 - a named thing does not exist
    │   └── AlreadyExistsError      HTTP 409 - refusing to overwrite something
    ├── RefusedError                exit 1, HTTP 403 - a rule or a role said no
    │   ├── PermissionDeniedError   wrong role / not your performer / approving your own request
    │   ├── PolicyDeniedError       the policy engine denied the job
    │   ├── ConsentError            no covering, valid, unrevoked consent
    │   └── QuarantinedError        an asset was quarantined after a revocation
    ├── PendingApprovalError        exit 1, HTTP 409 - waiting for named approvers
    ├── IntegrityError              exit 1, HTTP 409 - tampering or corruption detected
    ├── StateConflictError          exit 1, HTTP 409 - another request changed it first (a race); read it again
    ├── WorkspaceError              exit 1, HTTP 500 - the workspace cannot be used as it is
    └── BackendError                exit 1, HTTP 502 - an external tool or library failed;
                                    .status: the remote server's HTTP status, when it answered one
"""

from __future__ import annotations

__all__ = [
    "SoundstageError",
    "InputError",
    "ParseError",
    "UnsafeInputError",
    "SpecError",
    "NotFoundError",
    "AlreadyExistsError",
    "RefusedError",
    "PermissionDeniedError",
    "PolicyDeniedError",
    "ConsentError",
    "QuarantinedError",
    "PendingApprovalError",
    "IntegrityError",
    "StateConflictError",
    "WorkspaceError",
    "BackendError",
    "InternalError",
    "BusyError",
    "TooManyRequestsError",
    "exit_code_for",
    "http_status_for",
]


class SoundstageError(Exception):
    """Root of every error soundstage raises on purpose."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message a person sees: one line, with the fix when we know it."""
        text = " ".join(self.message.split())
        if self.hint:
            text += f" ({' '.join(self.hint.split())})"
        return text


class InputError(SoundstageError):
    exit_code = 2
    http_status = 400


class ParseError(InputError):
    """A file could not be read; carries where, when known."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 hint: str | None = None) -> None:
        where = ""
        if source and line:
            where = f"{source}:{line}: "
        elif source:
            where = f"{source}: "
        elif line:
            where = f"line {line}: "
        super().__init__(where + message, hint=hint)
        self.source = source
        self.line = line


class UnsafeInputError(InputError):
    pass


class SpecError(InputError):
    """A structured document has a bad field; names the field and, when known, the line."""

    http_status = 422

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None,
                 source: str | None = None, hint: str | None = None) -> None:
        parts = []
        if source:
            parts.append(source + (f":{line}" if line else ""))
        elif line:
            parts.append(f"line {line}")
        if field:
            parts.append(f"field '{field}'")
        prefix = (", ".join(parts) + ": ") if parts else ""
        super().__init__(prefix + message, hint=hint)
        self.field = field
        self.line = line
        self.source = source


class NotFoundError(InputError):
    http_status = 404


class AlreadyExistsError(InputError):
    http_status = 409


class RefusedError(SoundstageError):
    http_status = 403


class PermissionDeniedError(RefusedError):
    pass


class PolicyDeniedError(RefusedError):
    def __init__(self, message: str, *, rule_ids: list[str] | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.rule_ids = list(rule_ids or [])


class ConsentError(RefusedError):
    pass


class QuarantinedError(RefusedError):
    pass


class PendingApprovalError(SoundstageError):
    http_status = 409


class IntegrityError(SoundstageError):
    http_status = 409


class StateConflictError(SoundstageError):
    """Two requests raced for the same state change (two final approvals, a retry during a run):
    one made it, this one did not. Nothing was half-done; read the current state."""

    http_status = 409


class WorkspaceError(SoundstageError):
    pass


class BackendError(SoundstageError):
    """An external tool, library or server failed.

    ``status`` is the HTTP status a remote server answered with when that is what failed (``None``
    otherwise: a timeout, a crash, a bad payload), so a caller can react to one answer (fall back to
    a simpler request on a 400) without parsing the message. It is the remote server's status, not
    ours: every interface still answers ``http_status`` (502) for any BackendError."""

    http_status = 502

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class InternalError(SoundstageError):
    """Something unexpected failed (a bug, a full disk): named by its class only, logged in full.
    Raised where an answer has already begun (a progress stream) and must still end with its error."""


class BusyError(SoundstageError):
    """The server's slots for heavy work (reading a file for its watermark) are all taken; nothing
    was done. Try again shortly (HTTP 503 with Retry-After)."""

    http_status = 503


class TooManyRequestsError(RefusedError):
    """This person already has the most heavy requests of this kind running that one may; nothing was
    done (HTTP 429 with Retry-After)."""

    http_status = 429


def exit_code_for(exc: BaseException) -> int:
    return exc.exit_code if isinstance(exc, SoundstageError) else 1


def http_status_for(exc: BaseException) -> int:
    return exc.http_status if isinstance(exc, SoundstageError) else 500
