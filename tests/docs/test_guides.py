"""Docs that cannot rot: the examples in the guides are loaded by the real code."""

import re
from pathlib import Path

from soundstage.safeguards.policy import PolicyEngine
from soundstage.safeguards.policy.loader import load_pack

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_policy_pack_guide_example_loads_and_tightens_the_default():
    text = (DOCS / "guides" / "write-a-policy-pack.md").read_text()
    example = re.search(r"```yaml\n(pack: studio-x.*?)```", text, re.S).group(1)
    pack = load_pack(example, "write-a-policy-pack.md")
    assert pack.label == "studio-x@3" and [r.id for r in pack.rules] == ["STUDIO-X-1", "STUDIO-X-2"]
    PolicyEngine.default([pack])  # combines with the default pack: no clashing rule ids
