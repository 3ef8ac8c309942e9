"""The context rules of `rules.4` (DR024), each on sentences of no script in the corpus.

Each rule reads general screenplay English or an AD's convention (README of the corpus), so the
examples use words and settings the development scripts do not have.
"""

from __future__ import annotations

from soundstage.domain.breakdown import Category, SceneBreakdown
from soundstage.script.breakdown import TAGGER_VERSION, break_down
from soundstage.script.fountain import parse_fountain


def _scene(action: str, heading: str = "INT. ROOM - DAY") -> SceneBreakdown:
    (scene,) = break_down(parse_fountain(heading + "\n\n" + action + "\n")).scenes
    return scene


def _names(scene: SceneBreakdown, category: Category) -> set[str]:
    return {e.name for e in scene.in_category(category)}


def test_the_version_is_rules_4() -> None:
    assert TAGGER_VERSION == "rules.4"


def test_a_thing_that_makes_a_sound_is_a_sound_element_a_person_is_not() -> None:
    scene = _scene("The fridge hums. The fax machine chatters. Radiators groan.")
    assert {"fridge hum", "machine chatter", "radiator groan"} <= _names(scene, Category.SOUND)
    assert "fridge" in _names(scene, Category.SET_DRESSING)  # the thing stays dressing too
    people = _scene("MARA (30s) hums. The nurse coughs, then Mara coughs.")
    assert not any(" " in name for name in _names(people, Category.SOUND))  # no "nurse cough"
    weather = _scene("The wind roars through the pines.")
    assert _names(weather, Category.SOUND) == set()  # the effect carries its own sound
    assert "wind" in _names(weather, Category.SPECIAL_EFFECTS)


def test_a_sound_noun_is_a_sound() -> None:
    scene = _scene("The roar of the traffic. A faint whine, then a thump.")
    assert {"roar", "whine", "thump"} <= _names(scene, Category.SOUND)
    assert "thump" not in _names(_scene("Kit thumps the table."), Category.SOUND)  # a verb of a person


def test_a_distant_effect_is_heard_not_shown() -> None:
    scene = _scene("A distant explosion. Somewhere, muffled gunfire.")
    assert {"explosion", "gunfire"} <= _names(scene, Category.SOUND)
    assert "explosion" not in _names(scene, Category.SPECIAL_EFFECTS)
    assert "explosion" in _names(_scene("An explosion rocks the pier."), Category.SPECIAL_EFFECTS)


def test_in_space_vehicles_and_effects_are_visual_effects() -> None:
    scene = _scene("A freighter drifts past. Debris tumbles. An explosion, silent.", "EXT. SPACE - ORBIT OF MARS - NIGHT")
    vfx = _names(scene, Category.VISUAL_EFFECTS)
    assert {"space", "freighter", "debris", "explosion"} <= vfx
    assert not scene.in_category(Category.VEHICLES) and not scene.in_category(Category.SPECIAL_EFFECTS)
    ground = _scene("A freighter drifts past. Debris tumbles.", "EXT. SPACEPORT DOCKS - NIGHT")
    assert "freighter" in _names(ground, Category.VEHICLES) and "space" not in _names(ground, Category.VISUAL_EFFECTS)
    inside = _scene("A freighter drifts past the window. Debris tumbles.", "INT. SPACE STATION - GALLEY - NIGHT")
    assert "space" not in _names(inside, Category.VISUAL_EFFECTS)  # a set built on a stage


def test_hair_described_in_an_introduction_is_hair_and_makeup() -> None:
    scene = _scene("NINA (30s), spiky hair, beside a bearded ROADIE, soaked, frostbitten fingers.")
    assert {"spiky hair", "beard", "wet", "frostbite"} <= _names(scene, Category.MAKEUP_HAIR)
    assert not _names(_scene("Nina brushes her hair. The hair dryer whines."), Category.MAKEUP_HAIR)
    assert "frost" in _names(_scene("Frost in his eyebrows."), Category.MAKEUP_HAIR)


def test_a_pets_name_in_an_apposition_is_the_animal_not_a_thing() -> None:
    text = ("INT. ATTIC - DAY\n\nHer parrot, FIDDLE, squawks on its perch.\n\n"
            "Fiddle bobs its head.\n\nINT. SHOP - DAY\n\nA fiddle hangs on the wall.\n")
    attic, shop = break_down(parse_fountain(text)).scenes
    assert "parrot" in _names(attic, Category.ANIMALS) and not attic.in_category(Category.MUSIC)
    assert "FIDDLE" not in attic.cast
    assert "fiddle" in _names(shop, Category.MUSIC)  # the instrument, where no pet is named


def test_physical_phenomena_are_special_effects_and_a_smoking_gun_stays_a_prop() -> None:
    scene = _scene("Her breath fogs. Exhaust fumes. Tom holds a smoking revolver.")
    assert {"breath", "fumes", "smoke"} <= _names(scene, Category.SPECIAL_EFFECTS)
    assert "revolver" in _names(scene, Category.PROPS)


def test_what_cannot_be_shot_is_a_visual_effect() -> None:
    scene = _scene("Heat shimmer over the road. A shooting star. A humpback whale breaches. The staircase collapses.")
    assert {"heat shimmer", "shooting star", "humpback whale", "collapse"} <= _names(scene, Category.VISUAL_EFFECTS)
    assert not scene.in_category(Category.ANIMALS) and not scene.in_category(Category.SPECIAL_EFFECTS)


def test_the_next_item_after_set_dressing_is_dressing_too() -> None:
    scene = _scene("Wheelie bins and stacked pallets.")
    assert {"bins", "pallet"} <= _names(scene, Category.SET_DRESSING)
    verbs = _scene("He kicks the dumpster and leaves.")
    assert _names(verbs, Category.SET_DRESSING) == {"dumpster"}  # "and leaves": a verb, no determiner


def test_a_stunt_beat_is_named_by_its_action_and_getting_into_a_car_is_none() -> None:
    scene = _scene("The BOUNCER takes the punch and hits the floor. She dives into the canal. "
                   "He is winched down to the ledge. She hangs upside down from the rope.")
    assert {"hit", "dive", "winch", "wire work"} <= _names(scene, Category.STUNTS)
    calm = _scene("Mia jumps into the jeep and starts the engine.")
    assert not calm.in_category(Category.STUNTS)  # getting in, not a stunt


def test_what_a_fixture_holds_is_dressing_and_light_names_its_source() -> None:
    scene = _scene("Shelves of dusty paperbacks. A rack of plates. Candlelight.")
    dressing = _names(scene, Category.SET_DRESSING)
    assert {"plate", "candles"} <= dressing
    assert "plate" not in _names(scene, Category.PROPS)
    assert "plate" in _names(_scene("Ana sets down a plate."), Category.PROPS)


def test_quantities_and_people_do_not_turn_the_next_word_into_a_verb() -> None:
    scene = _scene("Light glints off a dozen lanterns. Villagers watch from the jetty.")
    assert "villagers" in _names(scene, Category.EXTRAS)
    assert "watch" not in _names(scene, Category.PROPS)  # their verb
    assert any("lantern" in name for name in _names(scene, Category.SET_DRESSING) | _names(scene, Category.PROPS))


def test_a_crowd_only_heard_is_not_in_the_scene_a_crowd_that_explodes_is() -> None:
    heard = _scene("The cheering of the crowd through the floor. Ana laces her boots.")
    assert "crowd" not in _names(heard, Category.EXTRAS)
    seen = _scene("The crowd explodes.")
    assert "crowd" in _names(seen, Category.EXTRAS) and not seen.in_category(Category.SPECIAL_EFFECTS)


def test_what_something_is_compared_to_is_no_element() -> None:
    scene = _scene("A corridor barely wider than a coffin. A kettle the size of a bucket. Sheets hang like sails.")
    assert "kettle" in _names(scene, Category.PROPS) | _names(scene, Category.SET_DRESSING)
    assert "bucket" not in _names(scene, Category.PROPS)
    assert not scene.in_category(Category.VEHICLES)  # no sailing boat in the room
    assert "bucket" in _names(_scene("She kicks a bucket across the yard."), Category.PROPS)


def test_glasses_of_a_drink_are_glasses_not_spectacles() -> None:
    scene = _scene("Ashby carries two glasses of port.")
    assert not {"glasses"} & _names(scene, Category.WARDROBE)
    assert _names(scene, Category.PROPS) & {"glass", "port"}


def test_a_material_before_a_thing_is_not_a_thing_of_its_own() -> None:
    scene = _scene("Chrome stools, red vinyl booths.")
    assert not scene.in_category(Category.MUSIC)  # vinyl the material, not a record


def test_a_pictured_or_only_heard_animal_is_not_an_animal_on_set() -> None:
    scene = _scene("A tattoo of a heron on her wrist. A photo of Grandpa holding up a huge trout. "
                   "Wolves howl somewhere in the hills.")
    assert not scene.in_category(Category.ANIMALS)
    assert "howl" in _names(scene, Category.SOUND)  # the call stays, as a sound
    seen = _scene("Wolves howl on the ridge. A heron stalks the shallows.")
    assert {"wolf", "heron"} <= _names(seen, Category.ANIMALS)
