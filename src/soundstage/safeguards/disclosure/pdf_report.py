"""The disclosure report as a landscape A4 PDF (ReportLab): same content as the HTML page.

Text drawing stays in this module's few helpers (`_pdf_fonts`, the paragraph styles, the footer in
`NumberedCanvas`), so font changes land in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from xml.sax.saxutils import escape as xml_escape

from soundstage import fonts
from soundstage.files import atomic_path
from soundstage.safeguards.disclosure.model import (
    _TRAINING_LABELS,
    DisclosureData,
    _as_data,
    _title_line,
    operation_label,
    readable_time,
)
from soundstage.safeguards.disclosure.notice import credits_notice, marking_statement
from soundstage.safeguards.disclosure.summary import SceneSeries, chart_bars, scene_series, summarize



def _pdf_fonts(texts: Iterable[str]) -> tuple[str, str]:
    """Built-in Helvetica when everything fits WinAnsi (text stays searchable); otherwise the shared
    resolver's Noto Sans, with each non-Latin run switched to a font that has it (see ``_markup``)."""
    for text in texts:
        try:
            text.encode("cp1252")
        except UnicodeEncodeError:
            return fonts.font_name("latin", "regular"), fonts.font_name("latin", "bold")
    return "Helvetica", "Helvetica-Bold"


def _markup(text: str, font: str, bold: bool = False) -> str:
    """Paragraph markup for ``text``: escaped as is under Helvetica, per-script font runs otherwise."""
    if font == "Helvetica":
        return xml_escape(text)
    return fonts.markup(text, "bold" if bold else "regular")


def _all_strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _all_strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _all_strings(v)


def _pdf_chart(series: SceneSeries, width: float, font: str) -> Any:
    from reportlab.graphics.shapes import Drawing, Group, Line, Rect, String
    from reportlab.lib import colors

    left, bottom, top = 30.0, 55.0, 8.0
    plot_w, plot_h = width - left - 10, 150.0
    legend_rows = -(-len(series.operations) // 4)
    legend_h = 14.0 * legend_rows + 6
    drawing = Drawing(width, bottom + plot_h + top + legend_h)
    base_y = bottom + legend_h
    max_total = max(series.max_total, 1)
    step = max(1, -(-max_total // 5))
    for tick in range(0, max_total + 1, step):
        y = base_y + tick * plot_h / max_total
        drawing.add(Line(left, y, left + plot_w, y, strokeColor=colors.HexColor("#dddddd"), strokeWidth=0.5))
        drawing.add(String(left - 4, y - 3, str(tick), fontName=font, fontSize=7, textAnchor="end"))
    for bar in chart_bars(series, plot_w, plot_h):
        drawing.add(Rect(left + bar.x, base_y + bar.y, bar.width, bar.height, strokeWidth=0.3,
                         strokeColor=colors.white, fillColor=colors.HexColor(series.colour(bar.operation))))
    slot = plot_w / max(len(series.scenes), 1)
    every = max(1, -(-9 // max(int(slot), 1)))  # thin the labels so they never overlap
    for index, scene in enumerate(series.scenes):
        if index % every:
            continue
        label = scene if len(scene) <= 14 else scene[:13] + "\u2026"
        if font != "Helvetica":  # one font per String: the label's script's font, in display order
            font_for_label, label = fonts.primary_font(label), fonts.visual(label)
        else:
            font_for_label = font
        label_string = String(0, 0, label, fontName=font_for_label, fontSize=7, textAnchor="end")
        group = Group(label_string)
        group.translate(left + (index + 0.5) * slot, base_y - 6)
        group.rotate(40)
        drawing.add(group)
    drawing.add(Line(left, base_y, left + plot_w, base_y, strokeColor=colors.black, strokeWidth=0.7))
    for i, operation in enumerate(series.operations):
        x = left + (i % 4) * (plot_w / 4)
        y = legend_h - 14.0 * (i // 4 + 1)
        drawing.add(Rect(x, y, 8, 8, fillColor=colors.HexColor(series.colour(operation)), strokeWidth=0.3))
        drawing.add(String(x + 12, y + 1, operation_label(operation), fontName=font, fontSize=8))
    return drawing


PDF_ASSETS_PER_USE = 4


def render_pdf(data: Mapping[str, Any] | DisclosureData, path: Path) -> Path:
    """Same content as the HTML; uncompressed and invariant so it is reproducible and searchable."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    doc = _as_data(data)
    path = Path(path)
    summary = summarize(doc)
    series = scene_series(doc)
    notice = credits_notice(doc)
    title = _title_line(doc)
    font, bold = _pdf_fonts(_all_strings(doc.source))

    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=11.5, alignment=TA_LEFT)
    cell = ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9)
    head = ParagraphStyle("head", parent=cell, fontName=bold)
    h1 = ParagraphStyle("h1", parent=body, fontName=bold, fontSize=16, leading=20, spaceAfter=4)
    h2 = ParagraphStyle("h2", parent=body, fontName=bold, fontSize=12, leading=15, spaceBefore=10, spaceAfter=4,
                        keepWithNext=1)
    boxed = ParagraphStyle("boxed", parent=body, fontSize=11, leading=14, borderColor=colors.black,
                           borderWidth=1, borderPadding=6, spaceBefore=6, spaceAfter=10)

    def p(text: Any, style: ParagraphStyle = body) -> Any:
        return Paragraph(_markup(str(text), font, style.fontName == bold), style)

    def lines(items: Iterable[str]) -> Any:
        return Paragraph("<br/>".join(_markup(x, font) for x in items) or "-", cell)

    page_w, _ = landscape(A4)
    frame_w = page_w - 30 * mm

    def table(header: Sequence[str], rows: list[list[Any]], widths: Sequence[float]) -> Any:
        scale = frame_w / sum(widths)
        # splitInRow: a row taller than a page (a model card's evidence of a few thousand characters)
        # continues on the next page; without it ReportLab cannot place the table at all
        t = Table([[Paragraph(_markup(h, font, True), head) for h in header]] + rows,
                  colWidths=[w * scale for w in widths], repeatRows=1, splitInRow=1)
        t.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        return t

    story: list[Any] = [p(title, h1)]
    scope = f"episode {doc.episode}" if doc.episode is not None else "whole production"
    story.append(p(f"Production {doc.production.id} - {scope} - generated {readable_time(doc.generated_at)}"))
    story.append(Spacer(1, 4))
    facts_rows = [["Prepared by", doc.prepared_by.line],
                  ["Audit log head", doc.audit_head.line],
                  ["Sign-off", f"{doc.sign_off.person} ({doc.sign_off.role}) - signature lines at the end"
                   if doc.sign_off else "not requested"]]
    facts_table = Table([[Paragraph(_markup(k, font, True), head), p(v, cell)] for k, v in facts_rows],
                        colWidths=[35 * mm, frame_w - 35 * mm], hAlign="LEFT")
    facts_table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                     ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#cccccc"))]))
    story.append(facts_table)
    story.append(p("'soundstage audit verify' must pass and 'audit log' must show this event with this hash.",
                   cell))

    story.append(p("Summary", h2))
    if not doc.uses:
        story.append(p("No generative AI use was recorded for this scope.", ParagraphStyle("b", parent=body, fontName=bold)))
    facts = [("GenAI uses", summary["uses"]), ("Final deliverables", summary["by_deliverable"]["final"]),
             ("Temporary", summary["by_deliverable"]["temporary"]), ("Assets in use", summary["active_assets"]),
             ("Models", summary["models"]), ("Consents relied on", summary["consents_relied_on"]),
             ("Approvals", summary["approvals"]), ("Quarantined", summary["quarantined"])]
    story.append(table([k for k, _ in facts], [[p(v, cell) for _, v in facts]], [1] * len(facts)))
    if summary["by_operation"]:
        story.append(Spacer(1, 4))
        story.append(p("By operation: " + ", ".join(
            f"{operation_label(k)} {v}" for k, v in sorted(summary["by_operation"].items()))))
    story.append(p("Decisions: " + ", ".join(f"{k} {v}" for k, v in summary["by_decision"].items())))

    story.append(p("GenAI use by scene", h2))
    if series.scenes:
        story.append(_pdf_chart(series, frame_w, font))
    else:
        story.append(p("No generative AI use to chart."))

    story.append(p("Uses", h2))
    if doc.uses:
        rows = []
        for use in doc.uses:
            m = use.model
            rules = ", ".join(r.rule_id for r in use.decision.reasons)
            marks = []
            for a in use.assets[:PDF_ASSETS_PER_USE]:
                wm = f"wm {a.watermark.engine}:{a.watermark.payload_hex}" if a.watermark else "NO WATERMARK"
                cr = f"C2PA {a.c2pa.manifest_label}" if a.c2pa else "NO C2PA"
                marks.append(f"{a.id} {a.name}{'' if a.active else ' [QUARANTINED]'}: {wm}; {cr}")
            if len(use.assets) > PDF_ASSETS_PER_USE:  # a table row must fit on a page; JSON/HTML list them all
                marks.append(f"... and {len(use.assets) - PDF_ASSETS_PER_USE} more (listed in the JSON and HTML "
                             "reports)")
            rows.append([
                lines([operation_label(use.operation), use.job_id]),
                p(" / ".join(x for x in (use.scene, use.shot) if x) or "-", cell),
                p(use.deliverable, cell),
                lines([f"{m.name} {m.version}", f"training data: {_TRAINING_LABELS[m.training_data]}"]),
                lines([use.decision.outcome] + ([rules] if rules else [])),
                lines(line for a in use.approvals  # the time on its own line: never split mid-date
                      for line in (f"{a.verdict}: {a.person} ({a.role})", readable_time(a.at))),
                lines(f"{c.consent_id} - {c.performer} [{c.status}]" for c in use.consents),
                lines(marks),
            ])
        story.append(table(["Operation / job", "Scene / shot", "Deliverable", "Model & attestation",
                            "Decision & rules", "Approvals", "Consents", "Assets: watermark & C2PA"],
                           rows, [11, 7, 7, 12, 11, 13, 13, 26]))
    else:
        story.append(p("None."))

    story.append(p("Models and training-data attestations", h2))
    if doc.models:
        story.append(table(["Model", "Licence", "Training data", "Evidence", "Weights SHA-256", "Concerns"],
                           [[lines([f"{m.name} {m.version}", m.id]), p(m.licence, cell),
                             p(_TRAINING_LABELS[m.training_data], cell), p(m.evidence or "-", cell),
                             p(m.weights_sha256, cell), lines(m.concerns)] for m in doc.models],
                           [14, 10, 9, 25, 24, 18]))
    else:
        story.append(p("None."))

    story.append(p("Consents relied on", h2))
    if doc.consents:
        story.append(table(["Consent", "Performer", "Kind", "Description", "Valid until", "Status"],
                           [[p(c.consent_id, cell), lines([c.performer, c.performer_id or ""]), p(c.kind, cell),
                             p(c.description, cell), p(readable_time(c.valid_until, empty="no expiry"), cell),
                             p(c.status, cell)]
                            for c in doc.consents],
                           [12, 14, 14, 38, 12, 10]))
    else:
        story.append(p("None."))
    if doc.performers_depicted:
        story.append(Spacer(1, 4))
        story.append(p("Real people whose likeness was generated or altered (deep fakes, EU AI Act Art. 3(60)): "
                       + "; ".join(f"{d.performer} ({', '.join(operation_label(o) for o in d.operations)})"
                                   for d in doc.performers_depicted)))

    story.append(p("Quarantined assets", h2))
    if doc.quarantined:
        story.append(table(["Asset", "Scene / shot", "Consent", "Revoked at", "Reason"],
                           [[lines([q.asset_id, q.name]), p(" / ".join(x for x in (q.scene, q.shot) if x) or "-", cell),
                             p(q.consent_id or "-", cell), p(readable_time(q.revoked_at, empty="-"), cell),
                             p(q.reason, cell)]
                            for q in doc.quarantined],
                           [20, 10, 14, 16, 40]))
    else:
        story.append(p("None."))

    notice_block = [p("Audience notice (EU AI Act Art. 50(4))", h2)]
    if notice:
        notice_block += [p("For the end credits or programme note:"), p(notice, boxed)]
    else:
        notice_block.append(p("No notice needed: no AI-generated or AI-altered material appears in the "
                              "final deliverables."))
    notice_block += [p("Machine-readable marking (Art. 50(2))", h2), p(marking_statement(doc))]
    story.append(KeepTogether(notice_block))

    if doc.sign_off is not None:  # blank lines for a wet signature
        who = f"{doc.sign_off.person}, {doc.sign_off.role}"
        blank = "_" * 38
        sign_block = [p("Sign-off", h2), p(f"Reviewed and approved for release by {who}:"), Spacer(1, 16)]
        sign_table = Table([[p(blank), p(blank), p("_" * 20)], [p("Signature", cell), p("Name", cell),
                                                                 p("Date", cell)]],
                           colWidths=[frame_w * 0.4, frame_w * 0.4, frame_w * 0.2], hAlign="LEFT")
        sign_block.append(sign_table)
        story.append(KeepTogether(sign_block))

    class NumberedCanvas(Canvas):
        """Holds pages back until the end so each footer can say 'page N of M'."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held)
            for state in self._held:
                self.__dict__.update(state)
                self.setFont(font, 7.5)
                self.setFillColor(colors.HexColor("#555555"))
                if font == "Helvetica":
                    self.drawString(15 * mm, 8 * mm, title[:120])
                else:
                    fonts.draw_string(self, 15 * mm, 8 * mm, title[:120], 7.5)
                self.drawRightString(page_w - 15 * mm, 8 * mm, f"Page {self._pageNumber} of {total}")
                super().showPage()
            super().save()

    with atomic_path(path, make_parents=False) as tmp:
        template = SimpleDocTemplate(str(tmp), pagesize=landscape(A4), leftMargin=15 * mm, rightMargin=15 * mm,
                                     topMargin=14 * mm, bottomMargin=16 * mm, title=title, author="soundstage",
                                     creator="soundstage", invariant=1, pageCompression=0)
        template.build(story, canvasmaker=NumberedCanvas)
    return path

