"""The audience notices: the Art. 50(4) credits notice and the Art. 50(2) marking statement.

Both are true to the data: the credits notice speaks only of what viewers will see or hear, and
the marking statement says "all" only when all outputs are marked.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from soundstage.safeguards.disclosure.model import (
    _ALTERATION,
    _LIKENESS,
    _NON_CONTENT_OPERATIONS,
    _REPLICA_VISUAL,
    _VOICE,
    DisclosureData,
    GenAIUse,
    _as_data,
    operation_label,
)
from soundstage.safeguards.disclosure.summary import summarize

def _join(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def credits_notice(data: Mapping[str, Any] | DisclosureData) -> str:
    """The Art. 50(4) notice for an artistic work, for the end credits or programme note.

    Built only from what viewers will actually see or hear (final deliverables with assets still
    in use); "with their consent" is claimed only if every such likeness use has a recorded,
    unrevoked consent. Empty string when nothing needs disclosing.
    """
    doc = _as_data(data)
    shown = [u for u in doc.uses if u.in_programme]
    subject = doc.subject

    def consented(uses: list[GenAIUse]) -> str:
        ok = all(any(c.status != "revoked" for c in u.consents) for u in uses)
        return ", with their consent" if ok else ""

    sentences = []
    altered = [u for u in shown if u.operation in _ALTERATION]
    if altered:
        ops = {u.operation for u in altered}
        what = "appearance or performance" if "performance_alteration" in ops else "appearance"
        deage = " (including de-ageing)" if "likeness_deage" in ops else ""
        sentences.append(f"This {subject} contains scenes in which performers' {what} was digitally "
                         f"altered{deage} using artificial intelligence{consented(altered)}.")
    replicas = [u for u in shown if u.operation in _REPLICA_VISUAL]
    if replicas:
        sentences.append(f"This {subject} contains digital replicas of performers created using "
                         f"artificial intelligence{consented(replicas)}.")
    voices = [u for u in shown if u.operation in _VOICE]
    if voices:
        named = sorted({c.performer for u in voices for c in u.consents})
        whose = f"The voice{'s' if len(named) > 1 else ''} of {_join(named)}" if named else "Some performers' voices"
        sentences.append(f"{whose} in this {subject} {'was' if len(named) == 1 else 'were'} in part generated using "
                         f"artificial intelligence{consented(voices)}.")
    other = [u for u in shown if u.operation not in _LIKENESS | _NON_CONTENT_OPERATIONS]
    if other:
        kinds = _join(sorted({operation_label(u.operation).lower() for u in other}))
        sentences.append(f"Some images in this {subject} ({kinds}) were generated or modified "
                         f"using artificial intelligence.")
    return " ".join(sentences)


def marking_statement(data: Mapping[str, Any] | DisclosureData) -> str:
    """The Art. 50(2) statement, true to the data: it says 'all' only when all are marked."""
    doc = _as_data(data)
    marking = summarize(doc)["marking"]
    total = marking["active_assets"]
    if total == 0:
        return "No generated or manipulated outputs are in use, so there is nothing to mark."
    if not marking["not_fully_marked"]:
        noun = "output carries" if total == 1 else f"{total} outputs carry"
        return (f"All {noun} C2PA Content Credentials identifying them as AI-generated or "
                f"AI-edited (IPTC digital source type) and an invisible watermark, so they are "
                f"marked in a machine-readable, detectable way (EU AI Act Art. 50(2)).")
    return (f"Of {total} outputs in use, {marking['with_c2pa']} carry C2PA Content Credentials and "
            f"{marking['with_watermark']} carry an invisible watermark. NOT FULLY MARKED: "
            f"{', '.join(marking['not_fully_marked'])} - mark these before delivery "
            f"(EU AI Act Art. 50(2)).")

