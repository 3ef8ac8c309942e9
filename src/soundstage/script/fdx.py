"""Final Draft (.fdx) reader and writer.

FDX is XML, and scripts arrive from outside, so parsing goes through defusedxml with DTDs,
entity declarations and external references all refused: a screenplay never needs them,
and they are how billion-laughs and file-disclosure attacks get in.

What we write is what Final Draft writes: only its paragraph types (``FINAL_DRAFT_TYPES``);
a locked scene number as the ``Number`` of the Scene Heading paragraph and a cut scene as an
``OMITTED`` heading; notes as ``<ScriptNote>`` elements (inline on the paragraph they belong
to, or on an empty General paragraph when they stand alone: sections and stray synopses are
written as such notes, "# Act One" and "= synopsis"); a synopsis right under a heading as the
scene's ``<SceneProperties><Summary>``; and the title page as ``<TitlePage>``: centred blocks
title, credit, author, source (the order Final Draft and afterwriting use), the draft date
right-aligned, the contact left-aligned, anything else left-aligned as "Key: value". Reading
takes all of these back, Final Draft's own title pages included.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as StdET
from xml.sax.saxutils import escape as _xml_escape, quoteattr as _quoteattr

import defusedxml
import defusedxml.ElementTree as SafeET

from soundstage.domain.screenplay import DialogueLine, Element, ElementKind, Run, Screenplay
from soundstage.errors import ParseError, UnsafeInputError
from soundstage.script.fountain import emphasis_markup, gc_paused, parse_emphasis

__all__ = ["parse_fdx", "write_fdx", "FINAL_DRAFT_TYPES"]

# Paragraph types Final Draft's screenplay and TV templates define; nothing else is written.
FINAL_DRAFT_TYPES = frozenset({
    "Scene Heading", "Action", "Character", "Parenthetical", "Dialogue", "Transition", "Shot",
    "General", "Cast List", "New Act", "End of Act",
})

_PARAGRAPH_TAG_RE = re.compile(rb"<Paragraph[\s>/]")
_EXTENSION_RE = re.compile(r"\(([^()]*)\)")
# Final Draft's title page is free paragraphs: centred blocks (title, credit, author, source in
# that order), the contact and draft date at the bottom. Keys we cannot place are "Key: value".
_TITLE_KEY_RE = re.compile(r"^([A-Za-z][A-Za-z0-9 _\-]*):\s*(.*)$", re.S)
_TITLE_KEYS = {
    "title", "credit", "author", "authors", "source", "draft date", "date", "contact",
    "copyright", "notes", "revision", "format", "font",
}
_CENTRED_SLOTS = ("title", "credit", "author", "source")
_CREDIT_RE = re.compile(r"\b(by|written|screenplay|teleplay|story)\b", re.I)
_BY_NAME_RE = re.compile(r"^(.*\bby)\s+(\S.*)$", re.I)

_SIMPLE_KINDS = {
    "Scene Heading": ElementKind.SCENE_HEADING,
    "Action": ElementKind.ACTION,
    "General": ElementKind.ACTION,
    "Shot": ElementKind.ACTION,  # a shot is camera direction inside a scene, not a new scene
    "Transition": ElementKind.TRANSITION,
    "Cast List": ElementKind.ACTION,
    "New Act": ElementKind.ACTION,
    "End of Act": ElementKind.ACTION,
    # not Final Draft's, but older soundstage exports wrote them: still read
    "Lyrics": ElementKind.LYRICS,
    "Section": ElementKind.SECTION,
    "Synopsis": ElementKind.SYNOPSIS,
    "Note": ElementKind.NOTE,
}


# --------------------------------------------------------------------------- reading

def _runs_of(paragraph: StdET.Element) -> tuple[str, tuple[Run, ...]]:
    """Concatenate a paragraph's <Text> children; keep runs only when any are styled."""
    runs: list[Run] = []
    for text_el in paragraph.findall("Text"):
        text = text_el.text or ""
        if not text:
            continue
        style = set((text_el.get("Style") or "").split("+"))
        run = Run(text, "Bold" in style, "Italic" in style, "Underline" in style)
        if runs and (runs[-1].bold, runs[-1].italic, runs[-1].underline) == (run.bold, run.italic, run.underline):
            runs[-1] = Run(runs[-1].text + text, run.bold, run.italic, run.underline)
        else:
            runs.append(run)
    plain = "".join(r.text for r in runs)
    styled = any(r.bold or r.italic or r.underline for r in runs)
    return plain, (tuple(runs) if styled else ())


def _paragraph_lines(data: bytes, root: StdET.Element) -> dict[int, int]:
    """Map each <Paragraph> element to its 1-based source line.

    ElementTree keeps no line numbers, but paragraphs appear in the text in the same order
    as ``root.iter()`` yields them, so counting tags in the raw bytes is enough.
    """
    paragraphs = list(root.iter("Paragraph"))
    offsets = [m.start() for m in _PARAGRAPH_TAG_RE.finditer(data)]
    if len(offsets) != len(paragraphs):
        return {}
    lines: dict[int, int] = {}
    line, last = 1, 0
    for para, offset in zip(paragraphs, offsets):
        line += data.count(b"\n", last, offset)
        last = offset
        lines[id(para)] = line
    return lines


def _load_root(data: bytes, source_name: str) -> StdET.Element:
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        raise UnsafeInputError(f"{source_name or 'FDX'}: refused an FDX file with a DOCTYPE/DTD "
                               "(screenplays never need one; it is how entity attacks get in)") from None
    except defusedxml.EntitiesForbidden:
        raise UnsafeInputError(f"{source_name or 'FDX'}: refused an FDX file that declares XML entities "
                               "(entity expansion attack)") from None
    except defusedxml.ExternalReferenceForbidden:
        raise UnsafeInputError(f"{source_name or 'FDX'}: refused an FDX file with an external reference") from None
    except StdET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise ParseError(f"malformed FDX XML: {str(exc).split(':', 1)[0]}", source=source_name or None,
                         line=line) from None
    except (ValueError, LookupError) as exc:  # bad encoding declarations and the like
        raise ParseError(f"unreadable FDX XML: {exc}", source=source_name or None) from None
    if root.tag != "FinalDraft":
        raise ParseError(f"not a Final Draft document (root element is <{root.tag}>)", source=source_name or None)
    return root


def _cue_parts(cue: str) -> tuple[str, tuple[str, ...]]:
    cue = cue.strip()
    extensions = tuple(m.group(1).strip() for m in _EXTENSION_RE.finditer(cue))
    return cue.split("(", 1)[0].strip(), extensions


def parse_fdx(data: bytes, source_name: str = "") -> Screenplay:
    """Parse Final Draft XML bytes into a Screenplay; hostile XML raises UnsafeInputError."""
    with gc_paused():
        return _parse_fdx(data, source_name)


def _note_texts(parent: StdET.Element) -> list[str]:
    """The text of each ``<ScriptNote>`` directly under ``parent`` (its paragraphs joined by a space)."""
    out = []
    for note in parent.findall("ScriptNote"):
        text = " ".join(" ".join(_runs_of(p)[0].split()) for p in note.iter("Paragraph")).strip()
        if text:
            out.append(text)
    return out


def _standalone_note(text: str, line: int) -> Element:
    """A note on an empty paragraph: a section ("# Act One"), a synopsis ("= ...") or a note."""
    stripped = text.strip()
    if stripped.startswith("#"):
        depth = len(stripped) - len(stripped.lstrip("#"))
        return Element(kind=ElementKind.SECTION, text=stripped[depth:].strip(), line=line, depth=depth)
    if stripped.startswith("="):
        return Element(kind=ElementKind.SYNOPSIS, text=stripped[1:].strip(), line=line)
    return Element(kind=ElementKind.NOTE, text=stripped, line=line)


def _parse_fdx(data: bytes, source_name: str) -> Screenplay:
    root = _load_root(data, source_name)
    lines = _paragraph_lines(data, root)
    elements: list[Element] = []

    content = root.find("Content")
    if content is None:
        raise ParseError("FDX has no <Content> element", source=source_name or None)

    # Flatten to (paragraph, dual_group_id) so DualDialogue wrappers can be honoured.
    flat: list[tuple[StdET.Element, int]] = []
    for group, para in enumerate(content.findall("Paragraph"), start=1):
        dual = para.find("DualDialogue")
        if dual is not None:
            flat.extend((inner, group) for inner in dual.findall("Paragraph"))
        else:
            flat.append((para, 0))

    current: dict | None = None  # dialogue being assembled
    cues_in_group: dict[int, int] = {}

    def flush() -> None:
        nonlocal current
        if current is not None:
            elements.append(Element(kind=ElementKind.DIALOGUE, text=current["name"], line=current["line"],
                                    character=current["name"], extensions=current["ext"],
                                    lines=tuple(current["blocks"]), dual=current["dual"],
                                    notes=tuple(current["notes"])))
            current = None

    for para, group in flat:
        ptype = para.get("Type", "Action")
        line = lines.get(id(para), 0)
        text, runs = _runs_of(para)
        notes = _note_texts(para)
        if (para.get("StartsNewPage") or "").lower() == "yes":
            flush()
            elements.append(Element(kind=ElementKind.PAGE_BREAK, line=line))
        if not text and notes and ptype not in ("Character", "Scene Heading"):
            if current is not None and ptype in ("Dialogue", "Parenthetical"):
                current["notes"].extend(notes)
                continue
            flush()
            elements.extend(_standalone_note(n, line) for n in notes)
            continue
        if ptype == "Character":
            flush()
            name, ext = _cue_parts(text)
            cues_in_group[group] = cues_in_group.get(group, 0) + 1
            current = {"name": name, "ext": ext, "line": line, "blocks": [], "notes": list(notes),
                       "dual": bool(group) and cues_in_group[group] >= 2}
            continue
        if ptype in ("Dialogue", "Parenthetical") and current is not None:
            paren = ptype == "Parenthetical"
            if paren and not text.startswith("("):
                text = f"({text})"
                runs = ()
            current["blocks"].append(DialogueLine(text=text, parenthetical=paren, line=line, runs=runs))
            current["notes"].extend(notes)
            continue
        flush()
        kind = _SIMPLE_KINDS.get(ptype, ElementKind.ACTION)
        found = tuple(notes)
        if kind is ElementKind.SCENE_HEADING:
            props = para.find("SceneProperties")
            number = para.get("Number") or (props.get("Number") if props is not None else None) or None
            elements.append(Element(kind=kind, text=text.strip(), line=line, runs=runs, scene_number=number,
                                    notes=found))
            summary = props.find("Summary") if props is not None else None
            if summary is not None:  # Final Draft's scene summary is the Fountain synopsis
                for sp_para in summary.iter("Paragraph"):
                    synopsis = _runs_of(sp_para)[0].strip()
                    if synopsis:
                        elements.append(Element(kind=ElementKind.SYNOPSIS, text=synopsis, line=line))
        elif kind is ElementKind.SECTION:
            elements.append(Element(kind=kind, text=text, line=line, depth=int(para.get("Depth", "1") or 1)))
        elif kind is ElementKind.ACTION:
            centered = (para.get("Alignment") or "").lower() == "center"
            elements.append(Element(kind=kind, text=text, line=line, runs=runs, centered=centered, notes=found))
        else:
            elements.append(Element(kind=kind, text=text, line=line, runs=runs, notes=found))
    flush()
    loose_notes = root.find("ScriptNotes")  # notes some versions keep apart from the paragraphs
    if loose_notes is not None:
        elements.extend(Element(kind=ElementKind.NOTE, text=n, line=lines.get(id(loose_notes), 0))
                        for n in _note_texts(loose_notes))
    title = root.find("TitlePage")
    title_page = _read_title_page(title) if title is not None else {}
    return Screenplay(title_page=title_page, elements=elements, source_name=source_name)


def _title_blocks(title: StdET.Element) -> list[tuple[str, list[str]]]:
    """(alignment, lines) per block of consecutive non-empty title-page paragraphs."""
    blocks: list[tuple[str, list[str]]] = []
    open_block = False
    paras = title.find("Content")
    for para in (paras if paras is not None else title).iter("Paragraph"):
        text, runs = _runs_of(para)
        align = (para.get("Alignment") or "Left").lower()
        if not text.strip():
            open_block = False
            continue
        value = emphasis_markup(text.strip(), runs) if runs else text.strip()
        if open_block and blocks[-1][0] == align:
            blocks[-1][1].append(value)
        else:
            blocks.append((align, [value]))
            open_block = True
    return blocks


def _read_title_page(title: StdET.Element) -> dict[str, str]:
    """Final Draft's free title page back into Fountain keys (see the module note)."""
    out: dict[str, list[str]] = {}
    centred: list[list[str]] = []
    for align, block in _title_blocks(title):
        key_match = _TITLE_KEY_RE.match(block[0])
        key = key_match.group(1).strip().lower() if key_match else ""
        if key in _TITLE_KEYS:  # "Draft date: ...", and older exports' "Title: ..." lines
            first = key_match.group(2).strip() if key_match else ""
            rest = block[1:]
            for k, value in enumerate(rest):  # older exports: one "Key: value" paragraph after another
                m = _TITLE_KEY_RE.match(value)
                if m and m.group(1).strip().lower() in _TITLE_KEYS:
                    out.setdefault(key, []).extend(([first] if first else []) + rest[:k])
                    return _merge_title(out, centred, _read_title_lines(rest[k:]))
            out.setdefault(key, []).extend(([first] if first else []) + rest)
        elif align == "center":
            centred.append(block)
        elif align == "right" and "draft date" not in out:
            out["draft date"] = block
        elif "contact" not in out:
            out["contact"] = block
        else:
            out.setdefault("notes", []).extend(block)
    return _merge_title(out, centred, {})


def _read_title_lines(lines: list[str]) -> dict[str, list[str]]:
    """Consecutive "Key: value" paragraphs (older exports wrote the whole title page so)."""
    out: dict[str, list[str]] = {}
    key = "notes"
    for value in lines:
        m = _TITLE_KEY_RE.match(value)
        if m and m.group(1).strip().lower() in _TITLE_KEYS:
            key = m.group(1).strip().lower()
            out[key] = [m.group(2).strip()] if m.group(2).strip() else []
        else:
            out.setdefault(key, []).append(value)
    return out


def _split_credits(centred: list[list[str]]) -> list[list[str]]:
    """A credit line starts a block of its own ("written by" under the title with no blank line),
    and "written by A. Writer" on one line is a credit and an author. Only the first credit:
    a later "Story by ..." is the source."""
    out: list[list[str]] = []
    seen = False
    for block in centred:
        current: list[str] = []
        for line in block:
            m = None if seen else _CREDIT_RE.search(line)
            if m and (current or out):
                seen = True
                if current:
                    out.append(current)
                by = _BY_NAME_RE.match(line)
                if by:
                    out.extend([[by.group(1)], [by.group(2)]])
                    current = []
                    continue
                current = [line]
            else:
                current.append(line)
        if current:
            out.append(current)
        seen = seen or len(out) > 1
    return out


def _merge_title(keyed: dict[str, list[str]], centred: list[list[str]], more: dict[str, list[str]]) -> dict[str, str]:
    centred = _split_credits(centred)
    slots = [k for k in _CENTRED_SLOTS if k not in keyed and k not in more]
    if len(centred) == 2 and slots[:2] == ["title", "credit"] and not _CREDIT_RE.search(" ".join(centred[1])):
        slots = ["title", "author"]  # a title and a name: no credit line between them
    merged: dict[str, list[str]] = {}
    for k, block in enumerate(centred):
        key = slots[k] if k < len(slots) else "notes"
        merged.setdefault(key, []).extend(block)
    for source in (keyed, more):
        for key, values in source.items():
            merged.setdefault(key, []).extend(values)
    order = {k: i for i, k in enumerate(("title", "credit", "author", "authors", "source", "draft date", "date",
                                         "contact"))}
    return {k: "\n".join(merged[k]) for k in sorted(merged, key=lambda k: order.get(k, len(order)))}


# --------------------------------------------------------------------------- writing

def _text_xml(text: str, runs: tuple[Run, ...]) -> str:
    if not runs:
        return f"<Text>{_xml_escape(text)}</Text>"
    out = []
    for run in runs:
        style = "+".join(name for name, on in (("Bold", run.bold), ("Italic", run.italic),
                                                ("Underline", run.underline)) if on)
        attr = f" Style={_quoteattr(style)}" if style else ""
        out.append(f"<Text{attr}>{_xml_escape(run.text)}</Text>")
    return "".join(out)


def _notes_xml(notes: tuple[str, ...] | list[str]) -> str:
    """Final Draft's script notes: one ``<ScriptNote>`` per note, its text as paragraphs."""
    out = []
    for note in notes:
        paras = "".join(f"<Paragraph>{_text_xml(part, ())}</Paragraph>" for part in note.split("\n"))
        out.append(f"<ScriptNote>{paras}</ScriptNote>")
    return "".join(out)


def _paragraph(ptype: str, text: str, runs: tuple[Run, ...] = (), new_page: bool = False,
               notes: tuple[str, ...] | list[str] = (), inner: str = "", **attrs: str) -> str:
    assert ptype in FINAL_DRAFT_TYPES, ptype
    extra = "".join(f" {k}={_quoteattr(v)}" for k, v in attrs.items())
    if new_page:
        extra += ' StartsNewPage="Yes"'
    return f'<Paragraph Type="{ptype}"{extra}>{inner}{_notes_xml(notes)}{_text_xml(text, runs)}</Paragraph>'


def _dialogue_xml(el: Element, new_page: bool) -> list[str]:
    cue = el.character + "".join(f" ({ext})" for ext in el.extensions)
    out = [_paragraph("Character", cue, new_page=new_page, notes=el.notes)]
    for dl in el.lines:
        out.append(_paragraph("Parenthetical" if dl.parenthetical else "Dialogue", dl.text, dl.runs))
    return out


def _heading_xml(el: Element, summary: list[str], new_page: bool) -> str:
    attrs = {"Number": el.scene_number} if el.scene_number else {}
    inner = ""
    if summary:
        paras = "".join(f"<Paragraph>{_text_xml(s, ())}</Paragraph>" for s in summary)
        number = f" Number={_quoteattr(el.scene_number)}" if el.scene_number else ""
        inner = f"<SceneProperties{number}><Summary>{paras}</Summary></SceneProperties>"
    return _paragraph("Scene Heading", el.text, el.runs, new_page, notes=el.notes, inner=inner, **attrs)


def _body_xml(sp: Screenplay) -> list[str]:
    body: list[str] = []
    new_page = False
    elements = sp.elements
    i = 0
    while i < len(elements):
        el = elements[i]
        kind = el.kind
        if kind is ElementKind.PAGE_BREAK:
            new_page = True
            i += 1
            continue
        if kind is ElementKind.DIALOGUE:
            nxt = elements[i + 1] if i + 1 < len(elements) else None
            if nxt is not None and nxt.kind is ElementKind.DIALOGUE and nxt.dual and not el.dual:
                inner = _dialogue_xml(el, False) + _dialogue_xml(nxt, False)
                flag = ' StartsNewPage="Yes"' if new_page else ""
                body.append(f"<Paragraph{flag}><DualDialogue>{''.join(inner)}</DualDialogue></Paragraph>")
                i += 2
            else:
                body.extend(_dialogue_xml(el, new_page))
                i += 1
            new_page = False
            continue
        if kind is ElementKind.SCENE_HEADING:
            summary: list[str] = []  # synopses right under the heading are the scene's summary
            while i + 1 < len(elements) and elements[i + 1].kind is ElementKind.SYNOPSIS:
                summary.append(elements[i + 1].text)
                i += 1
            body.append(_heading_xml(el, summary, new_page))
        elif kind is ElementKind.ACTION:
            attrs = {"Alignment": "Center"} if el.centered else {}
            body.append(_paragraph("Action", el.text, el.runs, new_page, notes=el.notes, **attrs))
        elif kind is ElementKind.TRANSITION:
            body.append(_paragraph("Transition", el.text, el.runs, new_page, notes=el.notes))
        elif kind is ElementKind.LYRICS:  # Final Draft's screenplay has no lyrics element
            body.append(_paragraph("General", el.text, el.runs, new_page, notes=el.notes))
        elif kind is ElementKind.SECTION:
            body.append(_paragraph("General", "", (), new_page, notes=["#" * max(1, el.depth) + " " + el.text]))
        elif kind is ElementKind.SYNOPSIS:
            body.append(_paragraph("General", "", (), new_page, notes=["= " + el.text]))
        elif kind is ElementKind.NOTE:
            body.append(_paragraph("General", "", (), new_page, notes=[el.text]))
        new_page = False
        i += 1
    return body


def _title_paragraph(value: str, align: str) -> str:
    text, runs = parse_emphasis(value)
    return f'<Paragraph Alignment="{align}">{_text_xml(text, runs)}</Paragraph>'


_BLANK = '<Paragraph Alignment="Center"><Text></Text></Paragraph>'


def _title_page_xml(title_page: dict[str, str]) -> str:
    """Final Draft's ``<TitlePage>``: markup becomes text styles; no "Key:" labels on the usual keys."""
    if not any(v.strip() for v in title_page.values()):
        return ""
    paras: list[str] = []
    for key in _CENTRED_SLOTS:
        lines = [ln.strip() for ln in title_page.get(key, "").split("\n") if ln.strip()]
        if lines:
            if paras:
                paras.append(_BLANK)
            paras.extend(_title_paragraph(ln, "Center") for ln in lines)
    for key, value in title_page.items():
        lines = [ln.strip() for ln in value.split("\n") if ln.strip()]
        if key in _CENTRED_SLOTS or not lines:
            continue
        paras.extend([_BLANK, _BLANK])
        if key in ("draft date", "contact"):
            align = "Right" if key == "draft date" else "Left"
            paras.extend(_title_paragraph(ln, align) for ln in lines)
        else:
            label = key.title() if key in _TITLE_KEYS else key
            paras.append(_title_paragraph(f"{label}: {lines[0]}", "Left"))
            paras.extend(_title_paragraph(ln, "Left") for ln in lines[1:])
    return "<TitlePage><Content>" + "".join(paras) + "</Content></TitlePage>"


def write_fdx(sp: Screenplay) -> bytes:
    """Write a Screenplay as Final Draft XML that Final Draft and ``parse_fdx`` both read."""
    body = _body_xml(sp)
    doc = (
        '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n'
        '<FinalDraft DocumentType="Script" Template="No" Version="5">\n'
        "<Content>\n" + "\n".join(body) + "\n</Content>\n" + _title_page_xml(sp.title_page) + "\n</FinalDraft>\n"
    )
    return doc.encode("utf-8")
