"""The error tree: what each class carries and how every interface maps it."""

from __future__ import annotations

import pytest

from soundstage.errors import (BackendError, InputError, SoundstageError, SpecError, exit_code_for,
                               http_status_for)


def test_backend_error_carries_the_remote_status_as_a_declared_attribute():
    error = BackendError("image service refused the request: HTTP 400: bad size", status=400,
                         hint="use 1024x1024")
    assert error.status == 400
    assert error.one_line() == "image service refused the request: HTTP 400: bad size (use 1024x1024)"
    # the remote server's status is not ours: every interface still answers 502 / exit 1
    assert http_status_for(error) == 502 and exit_code_for(error) == 1


def test_backend_error_without_an_answer_has_no_status():
    error = BackendError("image service POST /v1/images failed after 3 attempts: timed out after 60 s")
    assert error.status is None
    assert error.hint is None


def test_backend_status_is_keyword_only():
    with pytest.raises(TypeError):
        BackendError("boom", 400)  # type: ignore[misc]


@pytest.mark.parametrize("error, exit_code, http_status", [
    (SoundstageError("x"), 1, 500),
    (InputError("x"), 2, 400),
    (SpecError("x", field="size"), 2, 422),
    (BackendError("x", status=404), 1, 502),
    (ValueError("x"), 1, 500),
])
def test_one_mapping_for_every_interface(error, exit_code, http_status):
    assert exit_code_for(error) == exit_code and http_status_for(error) == http_status
