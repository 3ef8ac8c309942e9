"""Red team, attack 6: every size a client chooses is bounded (DR006: "sizes that exhausted memory").

Card sizes out of the procedural generator's declared bounds, an over-long prompt, too many
inputs or performers, an oversized or hostile ``params`` blob: each is refused (422 naming the
field; exit 2 from the CLI) before anything is recorded. The bounds are read from the code
(``domain.safeguards``/``domain.params``), so a test follows a bound that is moved on purpose;
the prompt and params bounds are also held to the documented 4000 characters and 256 KB.
"""

from __future__ import annotations

import json

import pytest

from redteam import (
    CARD_MODEL,
    run_queue,
    assert_error,
    assert_unchanged,
    auth,
    cleanup_body,
    cli,
    error_line,
    ledger_counts,
    snapshot,
    write_yaml,
)
from soundstage.domain.params import MAX_PARAMS_BYTES
from soundstage.domain.safeguards import MAX_INPUTS, MAX_LABEL_CHARS, MAX_PERFORMERS, MAX_PROMPT_CHARS

IDEATION = {"operation": "ideation", "model_id": CARD_MODEL, "prompt": "rainy street at dusk"}
BAD_SIZES = [100000, -1, "abc", 0, 15, 63, 4097, 1.5, True, [640], {"px": 640}, 10**30, "640"]


def refused(api, prod, body: dict, status: int, field: str | None, error_type: str = "SpecError") -> str:
    ws = prod["ws"]
    before = snapshot(ws)
    message = assert_error(api.post("/api/jobs", headers=auth(prod, "vfx_supervisor"), json=body), status,
                           error_type, field=field)
    assert_unchanged(ws, before)
    return message


def raw_refused(api, prod, text: str, status: int, field: str | None = None) -> str:
    ws = prod["ws"]
    before = snapshot(ws)
    response = api.post("/api/jobs", headers={**auth(prod, "vfx_supervisor"), "Content-Type": "application/json"},
                        content=text)
    message = assert_error(response, status, field=field)
    assert_unchanged(ws, before)
    return message


def test_the_documented_bounds():
    assert MAX_PROMPT_CHARS <= 4000 and MAX_PARAMS_BYTES <= 256 * 1024 and MAX_PERFORMERS <= 16


@pytest.mark.parametrize("name", ["width", "height"])
@pytest.mark.parametrize("value", BAD_SIZES, ids=repr)
def test_api_refuses_card_sizes_out_of_bounds(api, prod, name, value):
    refused(api, prod, {**IDEATION, "params": {name: value}}, 422, f"params.{name}")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_api_refuses_non_finite_sizes(api, prod, literal):
    text = json.dumps(IDEATION)[:-1] + f', "params": {{"width": {literal}}}}}'
    raw_refused(api, prod, text, 422, "params.width")


def test_api_runs_a_card_at_the_declared_maximum(api, prod):
    """Control: the bound is the bound (4096 is accepted), and a refusal above is not a blanket one."""
    ws = prod["ws"]
    rows = ledger_counts(ws)
    response = api.post("/api/jobs", headers=auth(prod, "vfx_supervisor"),
                        json={**IDEATION, "params": {"width": 4096, "height": 64}})
    assert response.status_code == 202 and response.json()["status"] == "queued", response.text
    run_queue(ws)
    assert ledger_counts(ws)["job"] == rows["job"] + 1 and ledger_counts(ws)["asset"] == rows["asset"] + 1


def test_api_refuses_a_card_the_watermark_cannot_mark(api, prod):
    """Regression: the card once declared 16 px as its minimum while the watermark needs 64, so a
    32 px card passed validation, was recorded and started, then failed (400) - now it is a bad
    field, refused before anything is recorded."""
    for size in (32, 63):
        refused(api, prod, {**IDEATION, "params": {"width": size, "height": 64}}, 422, "params.width")
        refused(api, prod, {**IDEATION, "params": {"width": 64, "height": size}}, 422, "params.height")


def test_api_refuses_an_overlong_prompt(api, prod):
    message = refused(api, prod, {**IDEATION, "prompt": "p" * (MAX_PROMPT_CHARS + 1)}, 422, "prompt")
    assert f"longer than {MAX_PROMPT_CHARS}" in message
    refused(api, prod, {**IDEATION, "prompt": "p" * 1_000_000}, 422, "prompt")


def test_api_refuses_too_many_inputs(api, prod):
    refs = [f"{i:016x}" for i in range(1, MAX_INPUTS + 2)]
    message = refused(api, prod, {**IDEATION, "inputs": refs}, 422, "inputs")
    assert f"more than {MAX_INPUTS} inputs" in message
    # exactly the bound passes the bound (and is then refused for naming no asset: 404, nothing written)
    refused(api, prod, {**IDEATION, "inputs": refs[:MAX_INPUTS]}, 404, None, "NotFoundError")


@pytest.mark.parametrize("spelling", ["upper", "prefixed", "prefixed-short", "prefixed-upper"])
def test_api_refuses_one_asset_named_twice_in_another_spelling(api, prod, spelling):
    """Regression: duplicates were compared as text, so one plate could be listed MAX_INPUTS times
    in different spellings (and re-hashed that many times before every run)."""
    plate = prod["plate"]["id"]
    other = {"upper": plate.upper(), "prefixed": "A-" + plate, "prefixed-short": f"a-{int(plate, 16):x}",
             "prefixed-upper": "a-" + plate.upper()}[spelling]
    message = refused(api, prod, {**IDEATION, "inputs": [plate, other]}, 422, "inputs")
    assert "the same id twice" in message


def test_api_refuses_too_many_performers(api, prod):
    performers = [f"t-{i:010x}" for i in range(MAX_PERFORMERS + 1)]
    refused(api, prod, {**IDEATION, "performers": performers}, 422, "performers")


@pytest.mark.parametrize("field", ["scene", "shot"])
def test_api_refuses_overlong_labels(api, prod, field):
    refused(api, prod, {**IDEATION, field: "5" * (MAX_LABEL_CHARS + 1)}, 422, field)


def test_api_refuses_a_params_blob_over_the_limit(api, prod):
    blob = "x" * (MAX_PARAMS_BYTES + 1)
    message = refused(api, prod, {**IDEATION, "params": {"width": 640, "notes": blob}}, 422, "params")
    assert f"larger than {MAX_PARAMS_BYTES} bytes" in message
    # many small keys add up the same way
    many = {f"k{i:06d}": 1 for i in range(MAX_PARAMS_BYTES // 8)}
    refused(api, prod, {**IDEATION, "params": many}, 422, "params")


def test_api_refuses_a_deeply_nested_body_cleanly(api, prod):
    """Nesting that would exhaust the JSON decoder's recursion is a 400, never a 500."""
    deep = "[" * 100_000 + "]" * 100_000
    raw_refused(api, prod, json.dumps(IDEATION)[:-1] + f', "params": {{"x": {deep}}}}}', 400)


def test_api_refuses_a_vfx_parameter_out_of_bounds(api, prod):
    refused(api, prod, cleanup_body(prod, radius=100000), 422, "params.radius")
    refused(api, prod, cleanup_body(prod, codec="../../bin/sh"), 422, "params.codec")


@pytest.mark.parametrize("case", ["width", "prompt", "params"])
def test_cli_refuses_out_of_bounds_specs(prod, tmp_path, case):
    ws = prod["ws"]
    before = snapshot(ws)
    body = {"width": {**IDEATION, "params": {"width": 100000}},
            "prompt": {**IDEATION, "prompt": "p" * (MAX_PROMPT_CHARS + 1)},
            "params": {**IDEATION, "params": {"notes": "x" * (MAX_PARAMS_BYTES + 1)}}}[case]
    spec = write_yaml(tmp_path / "job.yaml", body)
    result = cli(ws.settings.root, "job", "submit", str(spec))
    assert result.returncode == 2, result.stderr
    line = error_line(result)
    assert {"width": "field 'params.width'", "prompt": "field 'prompt'", "params": "field 'params'"}[case] in line
    assert_unchanged(ws, before)
