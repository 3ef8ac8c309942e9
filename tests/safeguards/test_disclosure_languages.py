"""The disclosure PDF draws titles, performers and scenes in any script with embedded glyphs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from soundstage.safeguards.disclosure import render_disclosure
from soundstage.testing.pdf_fonts import missing_chars

_spec = importlib.util.spec_from_file_location("_disclosure_samples", Path(__file__).with_name("test_disclosure.py"))
_samples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_samples)

NAMES = {"russian": "Анна Каренина", "greek": "Ελένη Παππά", "japanese": "渡辺 謙", "chinese": "李华",
         "korean": "김지민", "arabic": "ليلى مراد", "hebrew": "נועה קירל"}


def test_every_script_in_the_disclosure_pdf_has_embedded_glyphs(tmp_path):
    data = _samples.sample()
    title = "Последний дубль / 最後のテイク / הטייק האחרון"
    data["production"]["title"] = title
    for consent in data["consents"] + [c for u in data["uses"] for c in u["consents"]]:
        consent["performer"] = NAMES["japanese"]
    for use, name in zip(data["uses"], NAMES.values()):
        use["scene"] = name   # scene labels appear in the tables and under the chart's bars
    pdf = render_disclosure(data, tmp_path, formats=("pdf",))[0]
    assert missing_chars(pdf, title + "".join(NAMES.values())) == set()


def test_a_latin_only_report_keeps_the_builtin_font(tmp_path):
    pdf = render_disclosure(_samples.sample(), tmp_path, formats=("pdf",))[0]
    assert b"/BaseFont /Helvetica" in pdf.read_bytes()
