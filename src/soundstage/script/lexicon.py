"""Word lists that turn action lines into breakdown elements, compiled once into one regex.

Kept in Python rather than YAML so they ship inside the package with no data-file setup.
Each entry is ``"term"`` or ``"variant=canonical"``; regular plurals (-s/-es) are matched
automatically unless the term ends in ``!`` (for words whose plural is usually a verb:
"fires a shot" is not a fire). Words that are mostly verbs in screenplays ("watch", "cut")
are left out on purpose: a missed prop is cheaper than a sheet full of noise.
"""

from __future__ import annotations

import re
from functools import lru_cache

from soundstage.domain.breakdown import Category

LEXICONS: dict[Category, tuple[str, ...]] = {
    Category.EXTRAS: (
        "crowd", "passer-by=passers-by", "passers-by", "passersby=passers-by", "pedestrian", "patron",
        "diner", "commuter", "onlooker", "shopper", "spectator", "tourist", "customer", "bystander",
        "mourner", "partygoer", "protester", "audience", "dancer", "reveller", "clubgoer", "worshipper",
        "extras", "background", "soldiers", "guests", "students", "workers", "nurses", "police officers",
        "cops", "inmates", "prisoners", "villagers", "fans", "concertgoers", "people", "mob",
    ),
    Category.PROPS: (
        "gun", "pistol", "revolver", "rifle", "shotgun", "knife", "knives=knife", "sword", "dagger",
        "phone", "cellphone", "cell phone", "smartphone", "letter", "envelope", "briefcase", "suitcase",
        "backpack", "handbag", "purse", "wallet", "keys", "key", "cigarette", "cigar", "lighter",
        "glass", "bottle", "cup", "mug", "coffee", "wine", "beer", "whiskey", "book", "notebook",
        "laptop", "tablet", "camera", "flashlight", "torch", "map", "money", "cash", "ring",
        "necklace", "badge", "photo", "photograph", "newspaper", "folder", "file", "pen", "pencil",
        "umbrella", "flowers", "bouquet", "candle", "syringe", "pills", "handcuffs", "rope", "shovel",
        "hammer", "axe", "bat", "ball", "tray", "plate", "sandwich", "cake", "drink", "binoculars",
        "walkie-talkie", "radio", "microphone", "headphones", "remote", "ticket", "passport", "diary",
        "journal", "document", "contract", "cheque", "check!", "box", "crate", "present", "gift",
        "flask", "lantern", "matches", "chainsaw", "crowbar", "grenade", "bomb", "detonator",
    ),
    Category.WARDROBE: (
        "suit", "dress", "gown", "uniform", "jacket", "coat", "overcoat", "raincoat", "trench coat",
        "hat", "cap", "helmet", "boots", "shoes", "sneakers", "heels", "tuxedo", "scarf", "gloves",
        "apron", "robe", "bathrobe", "pyjamas", "pajamas", "hoodie", "sweater", "jeans", "shirt",
        "t-shirt", "blouse", "skirt", "tie", "bow tie", "vest", "overalls", "costume", "mask",
        "sunglasses", "glasses", "veil", "wedding dress", "lab coat", "scrubs", "hospital gown",
        "armour", "armor", "cloak", "kimono", "sari", "bikini", "swimsuit", "underwear", "lingerie",
    ),
    Category.MAKEUP_HAIR: (
        "blood", "bloody=blood", "bloodied=blood", "bruise", "bruised=bruise", "scar", "wound", "tattoo",
        "sweat", "sweating=sweat", "tears", "wig", "beard", "moustache", "mustache", "makeup",
        "make-up", "lipstick", "mascara", "bandage", "bandaged=bandage", "black eye", "ponytail",
        "braids", "dreadlocks", "bald", "grey hair", "gray hair", "stubble", "prosthetic",
        "burns", "scratches", "pale", "dirt-smeared", "mud-caked", "hairdo", "bun", "wrinkles",
    ),
    Category.VEHICLES: (
        "car", "truck", "van", "bus", "taxi", "cab", "motorcycle", "motorbike", "bicycle", "bike",
        "police car", "cruiser", "squad car", "ambulance", "fire truck", "helicopter", "boat", "yacht",
        "ship", "train", "plane", "airplane", "jet", "jeep", "sedan", "suv", "limo", "limousine",
        "tractor", "scooter", "pickup", "pickup truck", "convertible", "hearse", "tank", "canoe",
        "kayak", "subway", "tram", "carriage", "wagon", "forklift", "golf cart",
    ),
    Category.ANIMALS: (
        "dog", "puppy", "puppies=puppy", "cat", "kitten", "horse", "pony", "bird", "crow", "raven",
        "pigeon", "seagull", "parrot", "rat", "mouse", "mice=mouse", "snakes=snake", "a snake=snake", "the snake=snake", "fish", "cow", "chicken",
        "goat", "sheep", "wolf", "wolves=wolf", "bear", "deer", "fox", "rabbit", "hamster", "spider",
        "bees=bee", "bee", "owl", "hawk", "eagle", "donkey", "mule", "pig", "duck", "goose", "geese=goose",
        "lizard", "frog", "insects", "cattle", "livestock",
    ),
    Category.SET_DRESSING: (
        "sofa", "couch", "table", "desk", "chair", "armchair", "bed", "lamp", "painting", "poster",
        "curtains", "drapes", "bookshelf", "bookshelves=bookshelf", "bookcase", "rug", "carpet", "mirror",
        "fireplace", "tv", "television", "clock", "counter", "shelves", "shelf", "plants", "vase",
        "cabinet", "dresser", "wardrobe", "crib", "bunk bed", "bar stool", "stool", "bench",
        "chandelier", "blinds", "filing cabinet", "whiteboard", "blackboard", "fridge", "refrigerator",
        "stove", "oven", "sink", "bathtub", "toilet", "piano", "jukebox", "neon sign", "sign",
        "framed photo", "trophy", "trophies=trophy", "christmas tree", "decorations", "banner",
        "balloons", "monitors", "computer", "computers", "hospital bed", "gurney", "altar", "pews",
    ),
    Category.SPECIAL_EFFECTS: (
        "rain", "raining=rain", "rainstorm", "downpour", "storm", "smoke", "smoking=smoke", "fire!",
        "flames", "burning=fire", "blaze", "explosion", "explodes=explosion", "fog", "mist",
        "snow", "snowing=snow", "wind", "sparks", "steam", "squib", "breakaway", "lightning", "flood",
        "water gushes", "bullet hits", "debris", "embers", "dust cloud", "shatters", "shattered",
        "gunfire", "muzzle flash",
    ),
    Category.VISUAL_EFFECTS: (
        "set extension", "de-age", "de-aged=de-age", "de-aging=de-age", "deaged=de-age", "cgi", "cg",
        "digital", "digitally=digital", "digital double", "green screen", "greenscreen", "blue screen",
        "bluescreen", "collapse", "collapses=collapse", "collapsing=collapse", "hologram", "holographic",
        "morph", "morphs=morph", "disintegrates", "vfx", "teleports", "materialises", "materializes",
        "vanishes into thin air", "portal", "force field", "crowd replication", "screen insert",
        "spaceship", "dragon", "monster", "ghostly",
    ),
    Category.STUNTS: (
        "falls down=fall", "falls off=fall", "falls from=fall", "falls backward=fall",
        "falls through=fall", "fall from=fall", "falls to the ground=fall", "trips and falls=fall", "fight", "fighting=fight", "punch", "punches=punch",
        "crash", "crashes=crash", "crashing=crash", "jump", "jumps=jump", "leaps", "leap", "tackle",
        "tackles=tackle", "dives", "flips", "stunt", "chase", "chases=chase", "brawl", "kicks", "kick",
        "thrown", "slams into", "hit by", "shoves", "wrestle", "wrestles", "stabs", "stabbed",
        "collides", "skids", "rolls down", "plummets", "swings", "hangs from", "struggle", "struggles",
    ),
    Category.SOUND: (
        "gunshot", "gunshots", "bang", "thunder", "siren", "sirens", "phone rings", "ringing", "knock",
        "knocking=knock", "alarm", "scream", "screams=scream", "footsteps", "doorbell", "whistle",
        "barking", "bark", "crackle", "crackles", "static", "beep", "beeping", "thud", "rumble",
        "echo", "echoes", "howl", "buzz", "buzzing", "hum", "clatter", "crash sound", "car horn",
        "horn honks", "tires screech", "screech", "radio chatter",
    ),
    Category.MUSIC: (
        "music", "song", "sings=sing", "singing=sing", "sing", "band", "orchestra", "radio plays", "jukebox plays",
        "melody", "tune", "hums a tune", "choir", "anthem", "lullaby", "concert", "dj", "playlist",
        "guitar", "violin", "drums", "saxophone", "score", "soundtrack", "record player", "vinyl",
    ),
}


def _parse_entry(entry: str) -> tuple[str, str, bool]:
    """("variant", "canonical", allow_plural) from "variant=canonical" / "term!"."""
    term, _, canonical = entry.partition("=")
    allow_plural = not term.endswith("!")
    term = term.rstrip("!")
    canonical = (canonical or term).rstrip("!")
    return term.lower(), canonical.lower(), allow_plural


def _trie_regex(words: list[str]) -> str:
    """A regex alternation factored by common prefixes, so the engine never retries a shared start.

    With ~700 terms a flat alternation is tried term by term at every position; the
    factored form decides on the first letters and is several times faster.
    """
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        ends = "" in node
        branches = [(r"\s+" if ch == " " else re.escape(ch)) + emit(child)
                    for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            return "(?:" + body + ")?"
        return body

    return emit(trie)


@lru_cache(maxsize=1)
def compiled() -> tuple[re.Pattern[str], dict[str, tuple[tuple[Category, str], ...]]]:
    """One prefix-factored regex over every term (lower case: callers lower the text, which is
    much faster than re.IGNORECASE), and a map from matched words to elements.

    One scan per paragraph finds every category at once; the map lets one word belong to
    several categories ("jukebox" is set dressing; "explosion" a special effect). Regex
    alternation is greedy, not longest-match, so the trie puts longer continuations first
    by making every shorter ending optional.
    """
    lookup: dict[str, list[tuple[Category, str]]] = {}
    parsed = [(category, *_parse_entry(entry)) for category, entries in LEXICONS.items() for entry in entries]
    for category, term, canonical, _ in parsed:  # listed words first ...
        targets = lookup.setdefault(term, [])
        if (category, canonical) not in targets:
            targets.append((category, canonical))
    exact = set(lookup)
    for category, term, canonical, allow_plural in parsed:  # ... then plurals nobody listed
        for form in ([term + "s", term + "es"] if allow_plural else []):
            if form in exact:  # "glasses" is eyewear, not two glasses
                continue
            targets = lookup.setdefault(form, [])
            if (category, canonical) not in targets:
                targets.append((category, canonical))
    pattern = re.compile(r"\b" + _trie_regex(sorted(lookup)) + r"(?![\w-])")
    return pattern, {k: tuple(v) for k, v in lookup.items()}


@lru_cache(maxsize=1)
def compiled_any_case() -> re.Pattern[str]:
    """The same terms matched case-insensitively, for text whose lower-casing changes its length."""
    return re.compile(compiled()[0].pattern, re.IGNORECASE)


def lookup_match(word: str) -> tuple[tuple[Category, str], ...]:
    """The (category, canonical name) pairs for one regex match."""
    _, table = compiled()
    key = " ".join(word.lower().split())
    return table.get(key, ())
