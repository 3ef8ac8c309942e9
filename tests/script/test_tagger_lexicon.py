"""Nouns no word list names, read by their meaning in WordNet (DR021), and the rules around them.

The scripts here use words that are in no list of lexicon.py and in no script of the corpus, so
each test shows the table generalising, not remembering.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from soundstage.domain.breakdown import Category, SceneBreakdown
from soundstage.script.breakdown import break_down
from soundstage.script.fountain import parse_fountain
from soundstage.script.lexicon import lookup_match, wordnet_noun, wordnet_nouns

ROOT = Path(__file__).resolve().parents[2]


def _scene(action: str) -> SceneBreakdown:
    (scene,) = break_down(parse_fountain("INT. ROOM - DAY\n\n" + action + "\n")).scenes
    return scene


def _names(scene: SceneBreakdown, category: Category) -> set[str]:
    return {e.name for e in scene.in_category(category)}


def test_the_table_names_things_no_list_names() -> None:
    for word, category in [("samovar", Category.PROPS), ("hacksaw", Category.PROPS),
                           ("armoire", Category.SET_DRESSING), ("credenza", Category.SET_DRESSING),
                           ("ocelot", Category.ANIMALS), ("llamas", Category.ANIMALS),
                           ("frostbite", Category.MAKEUP_HAIR), ("pharmacist", Category.CAST)]:
        assert not lookup_match(word), word  # not a listed word: the table is what finds it
        found = wordnet_noun(word)
        assert found is not None and found[0] is category, (word, found)
    assert wordnet_noun("llamas")[1] == "llama" and wordnet_noun("ice axes")[1] == "ice axe"


def test_the_table_leaves_out_what_is_no_element() -> None:
    # more often another part of speech ("young", "saw"), a part of a thing ("pocket", "drawer"),
    # the category word itself ("furniture"), or a compound that is no element ("livery stable")
    for word in ("young", "saw", "pocket", "drawer", "wing", "furniture", "door", "window"):
        found = wordnet_noun(word)
        assert found is None or found[0] is None, (word, found)
    assert wordnet_noun("livery stable") == (None, "livery stable")
    assert all(word not in wordnet_nouns() for word in ("gun", "bottle", "car"))  # the lists read those


def test_a_noun_phrase_head_becomes_an_element_with_its_line() -> None:
    text = ("INT. DACHA - NIGHT\n\nA dented samovar hisses on the credenza.\n\n"
            "Outside, two llamas chew. VERA (40) saws at the padlock with a hacksaw.\n")
    (scene,) = break_down(parse_fountain(text)).scenes
    assert {"samovar", "hacksaw"} <= _names(scene, Category.PROPS)
    assert "credenza" in _names(scene, Category.SET_DRESSING)
    assert "llama" in _names(scene, Category.ANIMALS)
    lines = text.splitlines()
    assert scene.find(Category.PROPS, "samovar").source_line == lines.index(
        "A dented samovar hisses on the credenza.") + 1
    assert scene.find(Category.ANIMALS, "llama").source_line == lines.index(
        "Outside, two llamas chew. VERA (40) saws at the padlock with a hacksaw.") + 1


def test_a_bare_noun_right_after_a_verb_is_its_object() -> None:
    (scene,) = break_down(parse_fountain("INT. BAR - NIGHT\n\nJACK (40) pours bourbon. Jack hugs llamas.\n")).scenes
    assert "bourbon" in _names(scene, Category.PROPS)  # the whiskey, not the Bourbons of France
    assert "llama" in _names(scene, Category.ANIMALS)


def test_an_animal_calling_is_a_sound_and_crying_is_tears() -> None:
    scene = _scene("Gulls wheel and cry. An ocelot growls. She is crying. He is crying out for help.")
    assert {"gull cry", "ocelot growl"} <= _names(scene, Category.SOUND)
    assert _names(scene, Category.MAKEUP_HAIR) == {"tears"}


def test_a_person_who_falls_or_collapses_is_a_stunt() -> None:
    scene = _scene("The STEVEDORE collapses. He falls, sliding down the ramp.")
    assert "fall" in _names(scene, Category.STUNTS)
    assert "collapse" not in _names(scene, Category.SPECIAL_EFFECTS)
    calm = _scene("Ashby catches her before she falls. The tent collapses.")
    assert "fall" not in _names(calm, Category.STUNTS)


def test_a_modifier_is_not_the_head_and_a_compound_is_one_thing() -> None:
    scene = _scene("Garbage cans, steam from a grate. She packs ropes, ice axes, crampons.")
    props = _names(scene, Category.PROPS)
    assert {"garbage can", "ice axe", "crampon"} <= props  # a fragment, a compound, a list item
    assert "garbage" not in props and "can" not in props
    assert "ice" not in _names(scene, Category.SPECIAL_EFFECTS)  # "ice axes" is not ice on set


def test_context_keeps_words_that_are_not_things_out() -> None:
    scene = _scene("Mr. Ocelot pockets the coin. The livery stable is dark. "
                   "He checks his pockets and a drawer.")
    assert not scene.in_category(Category.ANIMALS)  # a name, not an ocelot
    assert "livery" not in _names(scene, Category.WARDROBE)
    assert not {"pocket", "drawer"} & _names(scene, Category.PROPS)


def test_a_toy_vehicle_or_animal_is_a_prop() -> None:
    scene = _scene("A paper aeroplane sails down the aisle past a wooden llama.")
    assert {"paper aeroplane", "wooden llama"} <= _names(scene, Category.PROPS)
    assert not scene.in_category(Category.VEHICLES) and not scene.in_category(Category.ANIMALS)


def test_an_adjective_a_list_maps_to_a_thing_does_not_make_the_next_noun_a_verb() -> None:
    scene = _scene("An Aga stove, muddy boots by the door.")
    assert "boots" in _names(scene, Category.WARDROBE)  # not "boots" the verb after the noun "mud"


def test_a_role_no_list_names_introduced_in_capitals_is_cast_and_its_plural_extras() -> None:
    scene = _scene("A PHARMACIST slides the pills across. Two STEVEDORES watch from the dock.")
    assert "PHARMACIST" in scene.cast
    assert "stevedores" in _names(scene, Category.EXTRAS) and "STEVEDORES" not in scene.cast


def test_a_device_that_is_also_a_trade_is_not_cast() -> None:
    scene = _scene("The PRINTER whirs.")  # WordNet's first "printer" is a person; the lists say a thing
    assert "PRINTER" not in scene.cast


def test_the_generated_table_is_what_the_script_makes_from_wordnet_files(tmp_path: Path) -> None:
    """scripts/build_wordnet_nouns.py on a tiny WordNet in its own file format: anchors, first
    senses, verbs, parts, compounds and irregular plurals decide the rows."""
    spec = importlib.util.spec_from_file_location("build_wordnet_nouns", ROOT / "scripts" / "build_wordnet_nouns.py")
    build = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(build)
    synsets = {  # offset: (lexname, words, hypernyms, part of)
        "00000001": (3, ["entity"], [], []),
        "00000010": (6, ["container"], ["00000001"], []),
        "00000011": (6, ["samovar"], ["00000010"], []),
        "00000012": (6, ["pocket"], ["00000010"], ["00000020"]),
        "00000013": (6, ["garbage_can"], ["00000010"], []),
        "00000014": (6, ["knife"], ["00000010"], []),
        "00000020": (6, ["clothing"], ["00000001"], []),
        "00000021": (6, ["stole"], ["00000020"], []),
        "00000030": (5, ["animal"], ["00000001"], []),
        "00000031": (5, ["llama"], ["00000030"], []),
        "00000040": (18, ["person"], ["00000001"], []),
        "00000041": (18, ["pharmacist"], ["00000040"], []),
        "00000050": (6, ["stable"], ["00000001"], []),
        "00000051": (6, ["livery"], ["00000020"], []),
        "00000052": (6, ["livery_stable"], ["00000050"], []),
    }
    data, index = [], {}
    for offset, (lexname, words, hypernyms, wholes) in synsets.items():
        ptrs = [f"@ {h} n 0000" for h in hypernyms] + [f"#p {w} n 0000" for w in wholes]
        data.append(f"{offset} {lexname:02d} n {len(words):02x} " + " ".join(f"{w} 0" for w in words)
                    + f" {len(ptrs):03d} " + " ".join(ptrs) + " | a gloss  ")
        for w in words:
            index.setdefault(w, []).append(offset)
    d = tmp_path / "dict"
    d.mkdir()
    (d / "data.noun").write_text("  1 a licence line\n" + "\n".join(data) + "\n", encoding="latin-1")
    (d / "index.noun").write_text("  1 a licence line\n" + "\n".join(
        f"{w} n {len(o)} 1 @ {len(o)} 0 " + " ".join(o) for w, o in sorted(index.items())) + "\n",
        encoding="latin-1")
    (d / "cntlist.rev").write_text("steal%2:40:00:: 1 40\nstole%1:06:00:: 1 2\n", encoding="latin-1")
    (d / "verb.exc").write_text("stole steal\n", encoding="latin-1")
    (d / "noun.exc").write_text("knives knife\n", encoding="latin-1")
    out = tmp_path / "table.py"
    anchors = build.ANCHORS
    build.ANCHORS = [("clothing", 1, "wardrobe"), ("container", 1, "props"), ("animal", 1, "animals"),
                     ("person", 1, "cast")]
    try:
        assert build.main(["--wordnet", str(d), "--out", str(out)]) == 0
    finally:
        build.ANCHORS = anchors
    namespace: dict = {}
    exec(out.read_text(encoding="utf-8"), namespace)
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in namespace["TABLE"].splitlines() if line}
    assert rows["samovar"] == ["props"] and rows["garbage can"] == ["props"] and rows["knife"] == ["props"]
    assert rows["llama"] == ["animals"] and rows["pharmacist"] == ["cast"] and rows["livery"] == ["wardrobe"]
    assert rows["knives"] == ["props", "knife"]  # an irregular plural names its lemma
    assert rows["livery stable"] == ["-"]  # a compound that is no element hides "livery"
    assert rows["container"] == ["-"]  # the category word itself is a noun, not a thing to list
    assert "pocket" not in rows  # a part of a piece of clothing
    assert "stole" not in rows  # far more often "steal" than the scarf
    assert "Princeton University" in out.read_text(encoding="utf-8")  # WordNet's licence travels with it


def test_the_shipped_table_loads_quickly() -> None:
    import time

    wordnet_nouns.cache_clear()
    start = time.process_time()
    table = wordnet_nouns()
    assert time.process_time() - start < 0.5 and len(table) > 10_000
