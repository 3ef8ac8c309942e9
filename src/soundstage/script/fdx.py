"""Final Draft (.fdx) reader and writer.

FDX is XML, and scripts arrive from outside, so parsing goes through defusedxml with DTDs,
entity declarations and external references all refused: a screenplay never needs them,
and they are how billion-laughs and file-disclosure attacks get in.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as StdET
from xml.sax.saxutils import escape as _xml_escape, quoteattr as _quoteattr

import defusedxml
import defusedxml.ElementTree as SafeET

from soundstage.domain.screenplay import DialogueLine, Element, ElementKind, Run, Screenplay
from soundstage.errors import ParseError, UnsafeInputError
from soundstage.script.fountain import gc_paused

__all__ = ["parse_fdx", "write_fdx"]

_PARAGRAPH_TAG_RE = re.compile(rb"<Paragraph[\s>/]")
_EXTENSION_RE = re.compile(r"\(([^()]*)\)")
# Final Draft's title page uses free paragraphs; we label ours so they read back as keys.
_TITLE_KEY_RE = re.compile(r"^([A-Za-z][A-Za-z0-9 _\-]*):\s*(.*)$", re.S)

_SIMPLE_KINDS = {
    "Scene Heading": ElementKind.SCENE_HEADING,
    "Action": ElementKind.ACTION,
    "General": ElementKind.ACTION,
    "Shot": ElementKind.ACTION,  # a shot is camera direction inside a scene, not a new scene
    "Transition": ElementKind.TRANSITION,
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
                                    lines=tuple(current["blocks"]), dual=current["dual"]))
            current = None

    for para, group in flat:
        ptype = para.get("Type", "Action")
        line = lines.get(id(para), 0)
        text, runs = _runs_of(para)
        if (para.get("StartsNewPage") or "").lower() == "yes":
            flush()
            elements.append(Element(kind=ElementKind.PAGE_BREAK, line=line))
        if ptype == "Character":
            flush()
            name, ext = _cue_parts(text)
            cues_in_group[group] = cues_in_group.get(group, 0) + 1
            current = {"name": name, "ext": ext, "line": line, "blocks": [],
                       "dual": bool(group) and cues_in_group[group] >= 2}
            continue
        if ptype in ("Dialogue", "Parenthetical") and current is not None:
            paren = ptype == "Parenthetical"
            if paren and not text.startswith("("):
                text = f"({text})"
                runs = ()
            current["blocks"].append(DialogueLine(text=text, parenthetical=paren, line=line, runs=runs))
            continue
        flush()
        kind = _SIMPLE_KINDS.get(ptype, ElementKind.ACTION)
        if kind is ElementKind.SCENE_HEADING:
            props = para.find("SceneProperties")
            number = para.get("Number") or (props.get("Number") if props is not None else None) or None
            elements.append(Element(kind=kind, text=text.strip(), line=line, runs=runs, scene_number=number))
        elif kind is ElementKind.SECTION:
            elements.append(Element(kind=kind, text=text, line=line, depth=int(para.get("Depth", "1") or 1)))
        elif kind is ElementKind.ACTION:
            centered = (para.get("Alignment") or "").lower() == "center"
            elements.append(Element(kind=kind, text=text, line=line, runs=runs, centered=centered))
        else:
            elements.append(Element(kind=kind, text=text, line=line, runs=runs))
    flush()

    title_page: dict[str, str] = {}
    title = root.find("TitlePage")
    if title is not None:
        loose: list[str] = []
        for para in title.iter("Paragraph"):
            text, _ = _runs_of(para)
            match = _TITLE_KEY_RE.match(text.strip())
            if match:
                title_page[match.group(1).strip().lower()] = match.group(2).strip()
            elif text.strip():
                loose.append(text.strip())
        if loose and "title" not in title_page:
            title_page["title"] = loose[0]
            if len(loose) > 1:
                title_page["notes"] = "\n".join(loose[1:])
    return Screenplay(title_page=title_page, elements=elements, source_name=source_name)


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


def _paragraph(ptype: str, text: str, runs: tuple[Run, ...] = (), new_page: bool = False, **attrs: str) -> str:
    extra = "".join(f" {k}={_quoteattr(v)}" for k, v in attrs.items())
    if new_page:
        extra += ' StartsNewPage="Yes"'
    return f'<Paragraph Type="{ptype}"{extra}>{_text_xml(text, runs)}</Paragraph>'


def _dialogue_xml(el: Element, new_page: bool) -> list[str]:
    cue = el.character + "".join(f" ({ext})" for ext in el.extensions)
    out = [_paragraph("Character", cue, new_page=new_page)]
    for dl in el.lines:
        out.append(_paragraph("Parenthetical" if dl.parenthetical else "Dialogue", dl.text, dl.runs))
    return out


def write_fdx(sp: Screenplay) -> bytes:
    """Write a Screenplay as Final Draft XML that Final Draft and ``parse_fdx`` both read."""
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
            attrs = {"Number": el.scene_number} if el.scene_number else {}
            body.append(_paragraph("Scene Heading", el.text, el.runs, new_page, **attrs))
        elif kind is ElementKind.ACTION:
            attrs = {"Alignment": "Center"} if el.centered else {}
            body.append(_paragraph("Action", el.text, el.runs, new_page, **attrs))
        elif kind is ElementKind.TRANSITION:
            body.append(_paragraph("Transition", el.text, el.runs, new_page))
        elif kind is ElementKind.LYRICS:
            body.append(_paragraph("Lyrics", el.text, el.runs, new_page))
        elif kind is ElementKind.SECTION:
            body.append(_paragraph("Section", el.text, (), new_page, Depth=str(max(1, el.depth))))
        elif kind is ElementKind.SYNOPSIS:
            body.append(_paragraph("Synopsis", el.text, (), new_page))
        elif kind is ElementKind.NOTE:
            body.append(_paragraph("Note", el.text, (), new_page))
        new_page = False
        i += 1

    title_xml = ""
    if sp.title_page:
        paras = "".join(
            _paragraph("General", f"{key.title()}: {value}", (), Alignment="Center")
            for key, value in sp.title_page.items()
        )
        title_xml = f"<TitlePage><Content>{paras}</Content></TitlePage>"
    doc = (
        '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n'
        '<FinalDraft DocumentType="Script" Template="No" Version="5">\n'
        "<Content>\n" + "\n".join(body) + "\n</Content>\n" + title_xml + "\n</FinalDraft>\n"
    )
    return doc.encode("utf-8")
