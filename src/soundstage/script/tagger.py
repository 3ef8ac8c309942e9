"""Reading action lines the way a first AD does: which words are elements, who is in the scene.

The word lists (lexicon.py) find candidates; these rules decide what each one is in its sentence:

- a word used as a verb is not the thing ("Nell drinks from the bottle", "Ray ducks", "the phone
  rings"), read from the words around it (determiners, pronouns, auxiliaries, a name before it);
- a word inside a fixed phrase is not the element ("signs of alarm", "her face drains of blood",
  "clicks the mouse" is a computer mouse), and a word inside a capitalised group's name ("THE JAZZ
  BAND") is the group, not music;
- stunts are actions done to people or vehicles ("SLAMS Ray against the wall", "SMACKS him",
  "the car crashes into a guardrail"), not every "slams" ("slams the door");
- cast is every character seen or heard: dialogue cues that are people (not the PRINTER, INTERCOM
  or MESSAGE MACHINE, whose lines are sound, nor "SUPER:" or an all-caps action line that Fountain
  reads as a cue), names in action in capitals or in mixed case ("Kate watches"), possessives
  ("Kate's hand"), "the girl" for a character cued GIRL, and parts introduced in capitals ("A
  HAIRDRESSER pins her hair"; "Two BOYS" are extras). A name in quotes or in "a photo of Kate" is
  not a presence;
- a noun no list names is read by the meaning of its most frequent sense in a table generated
  from WordNet (wordnet_nouns.py, DR021) when it heads a noun phrase ("a dented samovar", "ropes,
  ice axes, crampons", "Jack pours bourbon"), and a role in capitals no list names is a part ("A
  PHARMACIST");
- what a scene sounds like and what cannot be shot (DR024): a thing that hums or chatters is a
  sound, a distant explosion is heard, an owl hooting somewhere is not on set, a scene in space is
  visual effects; and what is only a figure of speech ("wider than a bus", "a tattoo of a fish")
  is no element.

Pure functions over text; every element keeps the script line its words are on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, NamedTuple

from soundstage.domain.breakdown import Category, normalise_name
from soundstage.script.lexicon import (
    DIRECTION_WORDS, GROUP_NOUNS, MACHINE_CUES, NOUN_CATEGORIES, PERSON_NOUNS, Term, compiled, compiled_any_case,
    lookup_match, trie_regex, wordnet_first_words, wordnet_noun,
)

# The version of these rules and word lists. Stored with every breakdown; bump it whenever the
# output for the same script changes, so a stored breakdown says which rules made it.
TAGGER_VERSION = "rules.4"

_DET = frozenset("a an the this that these those his her their my your our its some any no each every another "
                 "one two three four five six seven eight nine ten several many few both all either whose "
                 "dozens hundreds dozen hundred thousand thousands twenty thirty forty fifty".split())
_SUBJ = frozenset("he she they we i you it who which".split())
_AUX = frozenset("is are was were be been being am has have had do does did will would can could shall should "
                 "may might must to 'll 'd not never don't doesn't didn't won't can't cannot also then just "
                 "still again almost barely finally suddenly slowly quickly gently immediately".split())
_PREP = frozenset("of in on at from with by for into onto over under through across behind beside between "
                  "against around along toward towards past near off inside outside upon within without like "
                  "as about above below beneath".split())
_CONJ = frozenset({"and", "or", "but", "then"})
_PARTICLES = frozenset("open shut closed off out away back again".split())
_PLURAL_SUBJECTS = frozenset("people men women children townsfolk folk police everyone everybody crowd they we".split())
_OBJ = frozenset("him her them it me us you himself herself themselves".split())
_NOT_BEFORE_NAME = frozenset("in of since until last next early late every on mid a an the some".split())
_FULL_STOP = re.compile(r"[.!?]\s|\n\s*\n")
_ON_A_SCREEN = re.compile(r"\b(?:on|in)\s+(?:the|a|an|his|her|their|its)?\s*(?:[\w'’]+\s+)?(?:monitor|monitors|screen|"
                          r"tv|television|phone|laptop|display|photo|photograph|picture|poster|painting|newspaper|"
                          r"viewfinder)\b|\b(?:photo|photograph|picture|portrait|poster|drawing)\s+of\b")
# Every _ON_A_SCREEN match holds one of these words: a cheap test before it.
_SCREEN_WORD = re.compile(trie_regex(sorted({"monitor", "screen", "tv", "television", "phone", "laptop", "display",
                                             "photo", "picture", "poster", "painting", "newspaper", "viewfinder",
                                             "portrait", "drawing"})))
_NOT_PRESENT_AFTER_POSSESSIVE = frozenset("photo photograph picture portrait name grave memory letter file "
                                          "funeral ghost".split())
_WEATHER = frozenset({"rain", "snow", "drizzle", "hail", "sleet"})

_WORD = re.compile(r"[\w'’\-]+")
_SENTENCE_END = re.compile(r"[.!?;:]\s|[.!?;:]$|\n\s*\n")
_QUOTED = re.compile(r"\"[^\"\n]{0,300}\"|“[^”\n]{0,300}”")
#: capital letters of the scripts a screenplay is written in: Latin (with accents), Greek, Cyrillic
#: (Ukrainian Ґ too), so "МАША (7)" or "ÉLODIE" in an action line introduces a part as "MASHA" does
UPPER = "A-ZÀ-ÖØ-ÞΆΈ-ΊΌΎ-ΏΑ-ΩЀ-ЯҐ"
_CAPS_PHRASE = re.compile(r"(?<![\w'’])(?:(?:A|AN|THE|TWO|THREE|FOUR|FIVE|SIX|SEVEN|SOME|MANY|OTHER)\s+)*"
                          rf"([{UPPER}][{UPPER}'’\-.]*[{UPPER}](?:\s+[{UPPER}][{UPPER}'’\-.]*[{UPPER}])*)(?![\w'’])")
_LEADING_ARTICLE = re.compile(r"^(?:A|AN|THE)\s+")
_COUNT_WORD = re.compile(r"(?:TWO|THREE|FOUR|FIVE|SIX|SEVEN|SOME|MANY|OTHER)\s")
_TWO_CAPS = re.compile(rf"[{UPPER}][{UPPER}]")
_COUNTED = re.compile(r"\b(?:two|three|four|five|six|seven|eight|nine|ten|several|some|many|a few|dozens of)\s+$",
                      re.IGNORECASE)


# --------------------------------------------------------------------------- context

_SENTENCE_MARKS = (". ", "! ", "? ", "; ", ": ", ".\n", "!\n", "?\n", "\n\n")
_CLAUSE_MARKS = _SENTENCE_MARKS + (", ", ",\n", " - ", " -- ", " – ", " — ")
_STRIP = ".,;:!?\"“”()[]-–—"


def _words_before(lower: str, start: int, n: int = 2, marks: tuple[str, ...] = _SENTENCE_MARKS) -> list[str]:
    """The last ``n`` words before ``start`` in the same sentence (or clause, with _CLAUSE_MARKS)."""
    lo = max(0, start - 60)
    chunk = lower[lo:start]
    cut = max(map(chunk.rfind, marks))
    if cut >= 0:
        chunk = chunk[cut + 1:]
    elif chunk.rstrip().endswith((".", "!", "?", ";", ":")):
        return []
    words = [w.strip(_STRIP) for w in chunk.split()[-n:]]
    return [w for w in words if w]


_NEXT_WORD = re.compile(r"[ \t]*\n?[ \t]*([\w'’\-]+)")


def _word_after(lower: str, end: int) -> str | None:
    """The next word in the same clause, or None at a mark (".", ",", ...) or a blank line."""
    m = _NEXT_WORD.match(lower, end)
    return m.group(1) if m else None


_BOUNDARY = frozenset(".,;:!?\n-–—(\"“”[")


def _prev_word(lower: str, start: int) -> tuple[str | None, int]:
    """The word right before ``start`` in the same clause and where it starts (None at a mark)."""
    i = start - 1
    while i >= 0 and lower[i] in " \t":
        i -= 1
    if i < 0 or lower[i] in _BOUNDARY:
        return None, -1
    j = lower.rfind(" ", 0, i)  # the last blank before it: a newline or tab after the last space, if any
    j = max(j, lower.rfind("\n", j + 1, i), lower.rfind("\t", j + 1, i))
    return lower[j + 1:i + 1], j + 1


def is_verb_use(lower: str, start: int, end: int, is_name: Callable[[str], bool],
                noun_ends: frozenset[int] | set[int] = frozenset(), original: str | None = None) -> bool:
    """Whether the word at lower[start:end] is used as a verb in its clause (a light POS rule).

    A determiner, possessive, preposition or number before it makes it a noun ("his watch", "a
    drink"); a pronoun, auxiliary, "to", an adverb or a character's name before it makes it a verb
    ("she smokes", "Nell drinks"); an -s form right after a noun is a verb ("the phone rings", "the
    door bangs"), as after "and" following a verb ("turns and drinks"); an object right after it is
    a verb ("checks his", "drink it"). Anything else is a noun. ``noun_ends`` are the offsets where
    another listed thing ends (a noun), and ``is_name`` tells a character's name.
    """
    p, p_start = _prev_word(lower, start)
    if original is not None and p is not None and original[start:start + 1].isupper():
        return False  # "a sleek Mercedes pulls up": a capitalised word inside a clause is a name
    if p is None:  # first in its clause: "Smoke fills the room" (noun), "Tears his car apart" (verb)
        word = lower[start:end].split()[0]
        nxt = _word_after(lower, end)
        return nxt is not None and (nxt in _DET or nxt in _OBJ) and not word.endswith(("ing", "ed"))
    p = p.strip(_STRIP) or p
    if p in _DET or p in _PREP or p.endswith(("'s", "’s")) or p[0].isdigit():
        return False
    if p in _SUBJ or p in _AUX or (p.endswith("ly") and len(p) > 4) or is_name(p):
        return True
    word = lower[start:end].split()[0]
    nxt = _word_after(lower, end)
    if nxt is not None and is_name(nxt) and not word.endswith(("ing", "ed")):
        return True  # "waves Margaret over"
    if word.endswith("s") and not word.endswith("ss"):
        if nxt in _PARTICLES and not lower.startswith(nxt + " of", lower.find(nxt, end)):
            return True  # "hammers out a tune", "bangs open", "storms off" (not "boxes out of the van")
        if p_start + len(p) in noun_ends:
            return True  # "the phone rings", "the SCREEN DOOR bangs open"
        pp, pp_start = _prev_word(lower, p_start)
        if pp is not None and (pp in _DET or pp.endswith(("'s", "’s"))):
            return True  # "her face drains"
        if p in _CONJ and (pp is None or (pp not in _DET and pp_start + len(pp) not in noun_ends)):
            return True  # "turns and drinks", ", and waves" (not "a robe and curlers")
    elif not word.endswith(("ing", "ed")) and (p in _PLURAL_SUBJECTS or _people(p) or (
            p.endswith("s") and not p.endswith(("ss", "'s", "’s", "us", "is")) and p_start + len(p) not in noun_ends
            and _prev_word(lower, p_start)[0] in _DET)):
        return True  # "Townsfolk watch", "the cowboys drink" (not "counts cash", "fries eggs")
    return nxt is not None and (nxt in _DET or nxt in _OBJ) and not word.endswith(("ing", "ed"))


@lru_cache(maxsize=4096)
def _people(word: str) -> bool:
    """A plural the lists name as people ("villagers", "guests"): the plain word after it is their verb."""
    terms = lookup_match(word)
    return bool(terms) and word.endswith("s") and all(t.category is Category.EXTRAS for t in terms)


# --------------------------------------------------------------------------- senses

# Fixed phrases whose words are not the element they look like.
_NOT_ELEMENTS = tuple(re.compile(p) for p in [
    r"\b(?:in|of|with|no|without|mock|feigned|some)\s+alarm\b",
    r"\b(?:drains?|drained|draining)\s+of\s+(?:all\s+)?(?:colou?r|blood)\b",
    r"\bblood\s+(?:drains|drained|runs cold|ran cold|boils|pressure|type|test|sample|bank|relative|feud|money|"
    r"oath|sport|brother|brothers|line)\b",
    r"\b(?:cold|hot|warm)[- ]blooded\b", r"\bbad blood\b", r"\bfirst blood\b", r"\bin cold blood\b",
    r"\bsigns?\s+of\b", r"\bband\s+of\b", r"\bband(?:s|ed)?\s+together\b", r"\brubber\s+bands?\b",
    r"\b(?:goes|went|turns|turned|grows|grew|looks|looked)\s+pale\b",
    r"\b(?:sweating|sweats)\s+(?:it|bullets)\b",
    r"\bfights?\s+(?:back\s+)?(?:tears|the urge|a smile|a laugh|sleep)\b",
    r"\b(?:tears|tear)\s+(?:open|off|up|down|apart|through|into|out|at|away)\b",
    r"\bcut\s+(?:to|off|out|the|a|an|his|her|their|through|into|across)\b",
    r"\b(?:fire|fired|fires)\s+(?:at|on|off|a|the|another|again|back)\b",
    r"\b(?:ring|rings)\s+(?:true|a bell|out)\b",
    r"\bmusic\s+to\s+\w+\s+ears\b", r"\bface\s+the\s+music\b",
    r"\bstorms?\s+(?:out|off|in|into|away|past|through|up|down)\b",
    r"\b(?:smokes|smoked|smoking)\s+(?:a|the|his|her|their|another|one)\b",
    r"\b(?:steams|steamed|steaming)\s+(?:a|the|his|her|their)\b",
    r"\bwinds?\s+(?:up|down|the|his|her|its)\b",
    r"\b(?:creek|river|flower|sea|stream|lake|ocean|reed|oyster|test)\s?beds?\b",
    r"\bat\s+(?:his|her|their|its|our|my|your)\s+heels\b",
    r"\b(?:crowd|audience|room|fans|stadium|arena|house|he|she|they|everyone|chat)\s+(explodes?)\b",  # the crowd stays
    r"\bcrying\s+(?:out|for|shame|wolf)\b",
])
# One word each pattern above needs, in order (a cheap test before the regex).
_NOT_ELEMENT_KEYS = ("alarm", "drain", "blood", "blood", "bad", "first", "cold", "sign", "band", "band", "rubber",
                     "pale",
                     "sweat", "fight", "tear", "cut", "fire", "ring", "music", "music", "storm", "smok", "steam",
                     "wind", "bed", "heels", "explode", "crying")
assert len(_NOT_ELEMENT_KEYS) == len(_NOT_ELEMENTS)
# trigger word -> the phrases above that need it (by index)
_NOT_ELEMENTS_OF: dict[str, tuple[int, ...]] = {
    key: tuple(i for i, k in enumerate(_NOT_ELEMENT_KEYS) if k == key) for key in _NOT_ELEMENT_KEYS}

_TOY = re.compile(r"\b(stuffed|toy|plush|cuddly|soft|wooden|china|porcelain|rubber|plastic|cardboard|paper|"
                  r"inflatable|ceramic|clockwork|knitted|model)\s+$")
_ON_PEOPLE = frozenset({"mud", "dust", "soot", "ashes", "blood", "dirt", "grease", "paint", "flour", "oil", "ash",
                        "frost", "foam"})
_ON_BODY = re.compile(r"\s+(?:\w+\s+){0,2}?(?:in|on|over|across|streaked|smeared|caked)\s+(?:\w+\s+)?(?:his|her|their|"
                      r"my|your)\s+(?:hair|face|hands|cheek|cheeks|forehead|skin|arms|knees|neck|clothes|beard|eyebrows|"
                      r"eyelashes|lashes|lips|chin|brow|nose|fingers|moustache|mustache|stubble)\b")
_MOUSE_CONTEXT = re.compile(r"\b(?:click\w*|scroll\w*|computer|keyboard|laptop|monitor|screen|cursor|mousepad|"
                            r"mouse\s?pad|desktop)\b")
_SWEAT_NOT_PERSON = re.compile(r"\b(?:beer|bottle|glass|can|drink|window|windows|wall|walls|pipe|pitcher|jug|"
                               r"soda|jar|ice)\b")
_COLLAPSE_BIG = re.compile(r"\b(?:building|tower|bridge|ceiling|roof|house|city|mountain|cliff|ground|cave|tunnel|"
                           r"mine|skyscraper|structure|dam|wall|walls|cgi|cg|digital|staircase|stairway|balcony|chimney|"
                           r"scaffolding|spire|pier|overpass|floor)\b")
_COLLAPSE_PERSON = re.compile(r"\b(?:he|she|they|him|her)\b")


# --------------------------------------------------------------------------- stunts

_PERSON_WORDS = "|".join(sorted({w for w in PERSON_NOUNS if " " not in w} | {"thug", "attacker", "guy"},
                                 key=len, reverse=True))
_PERSON_OBJECT = (r"(?:(?i:him|her|them|me|us|you|himself|herself|each other|one another)"
                  r"|(?i:the|a|an|his|her|their|another)\s+(?:[\w\-]+\s+)?(?i:(?:" + _PERSON_WORDS + r")s?)"
                  r"|(?!(?:The|A|An|His|Her|Their)\b)[A-Z][\w\-]*(?![\w'’]))")
_HIT_VERBS = ("smack|slap|punch|kick|headbutt|elbow|shove|tackle|stab|strangle|choke|pistol-whip|hit|push|throw|"
              "body-slam|knee|bash|clobber|pummel")
# (pattern, element name or None for the lemma of the pattern's "v" group)
_STUNT_RULES: tuple[tuple[re.Pattern[str], str | None], ...] = tuple((re.compile(p), name) for p, name in [
    # hits done to a person: "SMACKS him", "punches Ray", "shoves the guard"
    (r"\b(?i:(?P<v>(?:" + _HIT_VERBS + r")(?:s|es|d|ed|ped|bed|ted|ing|bing|ping|ting)?))\s+" + _PERSON_OBJECT
     + r"(?![\w'’])", None),
    (r"(?i)\b(?P<v>slam(?:s|med|ming)?)\s+(?:[\w'’]+\s+){0,2}?(?:into|against|onto|through|to the (?:ground|floor))\b",
     None),
    (r"(?i)\b(?:is|was|gets|got|being|are|were)\s+(?P<v>slammed|thrown|hurled|flung|knocked|tackled|shot|hit|punched|"
     r"kicked|stabbed|run over)\b", None),
    (r"(?i)\b(?P<v>kicks?|kicked|kicking)\s+(?:in|down|open|through)\b", None),
    (r"(?i)\b(?:fights?|fighting|brawls?|brawling|wrestles?|wrestling|grapples?|grappling)\b(?!\s+(?:back\s+)?"
     r"(?:tears|the urge|a smile|a laugh|sleep|for breath|to|posters?|night|club|promoter|card|purse|record|film|"
     r"scene|choreograph\w*|or flight))", "fight"),
    (r"(?i)\b(?:a|the)\s+(?:fight|brawl|scuffle|melee)\b", "fight"),
    (r"(?i)\bswings?\s+(?:a|the|his|her|at)\b", "fight"),
    (r"(?i)\b(?:falls?|fell|falling)\s+(?:down|off|from|backwards?|through|to the (?:ground|floor)|hard|over|into|"
     r"out of)\b", "fall"),
    (r"(?i)\b(?:trips?|tripped|stumbles?|slips?|slipped|staggers?)\s+and\s+(?:falls?|fell|goes down|crashes)\b",
     "fall"),
    (r"(?i)\b(?:falls?|fell)\s+(?:face[- ]first|head[- ]?first|flat|backwards|forwards|sideways)\b", "fall"),
    # a person landing hard: "hits the floor", "drops to the canvas", "flies back over a stool"
    (r"(?i)\b(?P<v>hits?|hitting|drops?|dropped|crumples?|crumpled|slumps?|slumped)\s+(?:to\s+)?the\s+"
     r"(?:floor|ground|deck|canvas|dirt|tarmac|pavement|mat|sidewalk|asphalt)\b", None),
    (r"(?i)\b(?:flies|flew|sent flying|goes flying|went flying)\s+(?:back|backwards|across|over|through|off)\b",
     "fall"),
    # "He falls, sliding down the ice." (not "catches her before she falls.")
    (r"(?i)\b(?<!before )(?<!until )(?<!unless )(?<!lest )(?<!if )(?:he|she|they)\s+(?P<at>falls|fall|fell)"
     r"(?=\s*[,.;!—–-])", "fall"),
    (r"(?i)\b(?P<v>topples?|toppled|tumbles?|tumbled|plummets?|plunges?)\b", None),
    (r"(?i)\bknocks?\s+(?:\w+\s+){0,2}?(?:off\s+(?:his|her|their)\s+feet|down|over|out|flying|unconscious)\b",
     "knock down"),
    (r"(?i)\bslides?\s+across\b", "slide"),
    (r"(?i)\b(?P<v>thrown|flung|hurled|dragged)\s+(?:across|against|into|off|through|from|out|along|over)\b", None),
    (r"(?i)\b(?P<v>jumps?|jumped|jumping|leaps?|leapt|leaped|dives?|dived|dove|vaults?)\s+(?:off|from|over|across|"
     r"through|onto|down|into|in\b|out of (?:the|a) window)", None),
    (r"(?i)\b(?:crash(?:es|ed|ing)?|smash(?:es|ed|ing)?|plows?|ploughs?|careens?|slams?)\s+(?:[\w'’]+\s+){0,1}?"
     r"(?:into|through)\s+(?:a|an|the|its|his|her)?\s*(?:[\w'’\-]+\s+){0,2}?(?:guardrail|wall|door|window|barrier|"
     r"gate|car|truck|tree|pole|fence|shop|lamppost|hydrant|dock|rail|railing|building|van|bus|water|river)\b",
     "crash"),
    (r"(?i)\b(?:crash(?:es|ed)?)\b(?!\s+(?:cart|pad|helmet|course|test|site|landing|mat))", "crash"),
    (r"(?i)\b(?:rams?|rammed|ramming|sideswipes?|t-bones?)\b", "ram"),
    (r"(?i)\b(?:spins?|spun)\s+out\b|\b(?:skids?|skidded|swerves?|swerved)\b", "spin out"),
    (r"(?i)\b(?:flips?|flipped|rolls?|rolled)\s+over\b", "flip"),
    (r"(?i)\b(?:car|foot|high-speed|motorcycle)\s+chase\b|\bthe\s+chase\b|\bgives?\s+chase\b", "chase"),
    (r"(?i)\b(?:wire[- ]?work|rappels?|abseils?|free-falls?|somersaults?|backflips?|cartwheels?|stunt)\b", "stunt"),
    (r"(?i)\b(?:hangs?|hanging|dangles?|dangling)\s+upside[- ]down\b|\bin\s+a\s+harness\b", "wire work"),
    (r"(?i)\b(?:is\s+)?(?P<v>winched)\s+(?:up|down)\b", None),
])
_IRREGULAR = {"leapt": "leap", "dove": "dive", "dived": "dive", "threw": "throw", "thrown": "throw", "hurled": "throw", "flung": "throw", "shot": "shot",
              "hit": "hit", "hits": "hit", "hitting": "hit", "run over": "run over", "dragged": "drag"}


def _lemma(verb: str) -> str:
    v = verb.lower()
    if v in _IRREGULAR:
        return _IRREGULAR[v]
    for suffix in ("ing", "ed", "es", "s", "d"):
        if v.endswith(suffix) and len(v) - len(suffix) >= 3:
            stem = v[: -len(suffix)]
            if suffix in ("ed", "ing") and len(stem) > 3 and stem[-1] == stem[-2]:
                stem = stem[:-1]  # "slammed" -> "slam"
            if suffix == "es" and not stem.endswith(("sh", "ch", "ss", "x")):
                stem = v[:-1]  # "shoves" -> "shove"
            if suffix in ("ed", "ing") and stem + "e" in _E_VERBS:
                stem += "e"
            return stem
    return v


_E_VERBS = {"shove", "tackle", "strangle", "choke", "topple", "tumble", "plunge"}


_BOARDING = frozenset({"jump", "leap", "dive", "vault"})
_INTO_VEHICLE = re.compile(r"\s*(?:the|a|an|his|her|their)?\s*([\w\-]+)(?:\s+([\w\-]+))?")


# Words one of which each rule needs, in rule order: a substring test is far cheaper than the regex.
_STUNT_KEYS: tuple[tuple[str, ...], ...] = (
    tuple(_HIT_VERBS.replace("|", " ").split()), ("slam",),
    ("slammed", "thrown", "hurled", "flung", "knocked", "tackled", "shot", "hit", "punched", "kicked", "stabbed",
     "run over"),
    ("kick",), ("fight", "brawl", "wrestl", "grappl"), ("fight", "brawl", "scuffle", "melee"), ("swing",),
    ("fall", "fell"), ("trip", "stumble", "slip", "stagger"), ("fall", "fell"),
    ("hit", "drop", "crumple", "slump"), ("flies", "flew", "flying"), ("fall", "fell"),
    ("topple", "tumble", "plummet", "plunge"), ("knock",), ("slide",),
    ("thrown", "flung", "hurled", "dragged"), ("jump", "leap", "dive", "dove", "vault"),
    ("crash", "smash", "plow", "plough", "careen", "slam"), ("crash",), ("ram", "sideswipe", "t-bone"),
    ("spin", "spun", "skid", "swerve"), ("flip", "roll"), ("chase",),
    ("wire", "rappel", "abseil", "free-fall", "somersault", "backflip", "cartwheel", "stunt"),
    ("upside", "harness"), ("winched",),
)
assert len(_STUNT_KEYS) == len(_STUNT_RULES)
_STUNT_WORDS = frozenset(k for keys in _STUNT_KEYS for k in keys)


def _case_free(source: str) -> bool:
    """Whether a regex has no capital letter outside its escapes, nor a letter that re.IGNORECASE
    matches with an ASCII letter of another ("ſ" with "s"). Then, on ASCII text, matching it with
    re.IGNORECASE finds the same spans as matching it without on the text lower-cased (same length,
    same offsets), and the second is faster."""
    return not any(c.isupper() or not c.isascii() and c.isalpha() and any(
        re.fullmatch(re.escape(c), a, re.IGNORECASE) for a in "abcdefghijklmnopqrstuvwxyz")
        for c in set(re.sub(r"\\.|\(\?P[<=]", "", source)))  # escapes, named groups


# The (?i) rules without it, for lower-cased ASCII text; None for a rule with capitals in it.
_STUNT_RULES_LOWER: tuple[re.Pattern[str] | None, ...] = tuple(
    re.compile(pattern.pattern.removeprefix("(?i)"))
    if pattern.pattern.startswith("(?i)") and _case_free(pattern.pattern.removeprefix("(?i)")) else None
    for pattern, _ in _STUNT_RULES)
# trigger word -> the stunt rules that need it (by index), so a paragraph's words pick its rules
_STUNT_RULES_OF: dict[str, tuple[int, ...]] = {
    word: tuple(i for i, keys in enumerate(_STUNT_KEYS) if word in keys) for word in _STUNT_WORDS}
# Verbs of a sound a thing makes: with a thing as subject ("the vending machine hums", "the
# printer chatters", "the surf booms") the sound is an element; with a person ("she hums") it is not.
_SOUND_VERBS = ("hum", "beep", "bleep", "chatter", "clatter", "creak", "crackle", "roar", "hiss", "boom", "whine",
                "rattle", "buzz", "ping", "whir", "whirr", "clank", "clang", "clunk", "thump", "thud", "squeal",
                "screech", "shriek", "wail", "blare", "chime", "cough", "sputter", "splutter", "rumble",
                "drone", "sizzle", "tinkle", "jingle", "rustle", "whistle", "thunder", "honk", "toot", "groan",
                "clink", "squeak", "crunch", "grind", "ring", "clack", "ding", "yip", "purr")
_SOUND_FORMS = {form: verb for verb in _SOUND_VERBS
                for form in ((verb + "es",) if verb.endswith(("ss", "sh", "ch", "zz")) else (verb + "s",))}
_SOUND_FORMS["whirs"] = "whir"
_SOUND_FORMS.update({verb: verb for verb in _SOUND_VERBS})  # after a plural: "pans hiss", "coyotes yip"
_SOUND_STEMS = frozenset(_SOUND_VERBS)  # in _TRIGGER's finds when one of the forms may be in a paragraph
_TRIGGER = re.compile(r"\b" + trie_regex(sorted(_STUNT_WORDS | set(_NOT_ELEMENT_KEYS) | set(_SOUND_VERBS))))


# Stunts whose doer must be a person, an animal or a vehicle ("water falls into a drain", "a rock
# smashes through the window" and "the bulkhead slams down" are not stunts).
_NEEDS_AGENT = frozenset({"fall", "jump", "wire work", "leap", "leapt", "dive", "dove", "vault", "drop",
                          "crumple", "slump", "winch", "crash", "ram", "spin out", "flip", "slide", "topple", "tumble",
                          "plummet", "plunge", "slam"})
_AGENT_WORDS = re.compile(r"\b(?:he|she|they|i|we|you|who|him|her|them)\b|\b"
                          + trie_regex(sorted(_PERSON_WORDS.split("|"))) + r"s?\b", re.IGNORECASE)


# The same without re.IGNORECASE, for lower-cased ASCII text (same spans there, and faster)
assert _case_free(_AGENT_WORDS.pattern)
_AGENT_WORDS_LOWER = re.compile(_AGENT_WORDS.pattern)


def _has_agent(text: str, start: int, is_name: Callable[[str], bool]) -> bool:
    sentence = text[_sentence_start(text, start):start]
    lower = sentence.lower()
    if (_AGENT_WORDS_LOWER.search(lower) if sentence.isascii() else _AGENT_WORDS.search(sentence)):
        return True
    for m in compiled()[0].finditer(lower):
        if any(t.category in (Category.VEHICLES, Category.ANIMALS) for t in lookup_match(m.group(0))):
            return True
    return any(is_name(w.strip(_STRIP)) for w in sentence.split() if w[:1].isupper())


def _stunts(text: str, lower: str, present: set[str]) -> Iterable[tuple[int, str]]:
    """Stunts in ``text``; ``present`` are the trigger words found in it (_TRIGGER), so rules whose
    words are absent cost nothing."""
    if not present:
        return
    seen: set[int] = set()
    rules = {i for word in present for i in _STUNT_RULES_OF[word]}  # those whose words are present, in order
    is_ascii = text.isascii()  # then ``lower`` is text.lower(), offset for offset
    for i in sorted(rules):
        pattern, name = _STUNT_RULES[i]
        lowered = _STUNT_RULES_LOWER[i] if is_ascii else None
        for m in pattern.finditer(text) if lowered is None else lowered.finditer(lower):
            if m.start() in seen:
                continue
            seen.add(m.start())
            at = m.start("at") if "at" in pattern.groupindex else m.start()  # after the doer, if the rule names one
            lemma = name or _lemma(m.group("v"))
            if lemma in _BOARDING and (into := _INTO_VEHICLE.match(text, m.end())) is not None and any(
                    t.category is Category.VEHICLES for w in into.groups() if w for t in lookup_match(w.lower())):
                continue  # "jumps into the Porsche and floors it": getting in, not a stunt
            yield at, lemma


# --------------------------------------------------------------------------- titles and screens

_TITLE_CARD = re.compile(r"^\s*(?:SUPER(?:IMPOSE)?|TITLE(?:\s+CARD)?|CHYRON|CAPTION|SUBTITLE|INTERTITLE|"
                         r"LOWER THIRD)\b\s*[:\-–—]?", re.MULTILINE)
_SOUND_WORD = re.compile(r"(?:^|(?<=[.!?]\s))[*_]*([A-Z]{3,}(?:-[A-Z]{2,})*)[*_]*!+(?=\s|$)", re.MULTILINE)
_SCREEN_INSERT = re.compile(r"\b(?:phone|screen|laptop|monitor|display|tablet)\s+"
                            r"(?:displays|reads|shows|lights up with)\b"
                            r"|^\s*(?:ON\s+(?:[A-Z'’]+\s+){0,3}(?:PHONE|SCREEN|MONITOR|LAPTOP|TV|DISPLAY|COMPUTER|TABLET)\b"
                            r"|(?:TEXT\s+)?ON\s+SCREEN\b|INSERT\b[^\n]*\b(?:SCREEN|MONITOR|DISPLAY|PHONE|LAPTOP|COMPUTER|TEXT)\b)"
                            r"|\ba\s+text\s+(?:message\s+)?from\b|\btext\s+message\b",
                            re.MULTILINE)


_DIRECTION = re.compile(r"(?:" + "|".join(re.escape(w) for w in sorted(DIRECTION_WORDS, key=len, reverse=True))
                        + r")(?:$|[\s:])")


@lru_cache(maxsize=4096)
def is_direction_cue(cue: str) -> bool:
    """A Fountain cue that is really a direction or an action line: "SUPER:", "INSERT - THE LETTER",
    "MARY'S POV", "THE DOORBELL RINGS TWICE." (Fountain reads any capitalised line above text as a cue)."""
    text = cue.strip()
    upper = text.upper()
    if text.endswith(":") or " POV" in upper or upper.startswith("POV") or _DIRECTION.match(upper):
        return True
    words = text.split()
    if len(words) > 5:
        return True
    return len(words) >= 3 and text[-1] in ".!?" and not text.endswith(("JR.", "SR.", "ST."))


@lru_cache(maxsize=4096)
def is_machine_cue(name: str) -> bool:
    """A cue whose speaker is a device (PRINTER, INTERCOM, MESSAGE MACHINE, SHIP COMPUTER)."""
    key = " ".join(name.lower().replace("the ", " ").split())
    if key in MACHINE_CUES:
        return True
    words = key.split()
    return len(words) > 1 and (words[-1] in MACHINE_CUES or " ".join(words[-2:]) in MACHINE_CUES) \
        and words[0] not in PERSON_NOUNS and not words[0].endswith(("'s", "’s"))


# --------------------------------------------------------------------------- cast

_SINGULAR_EXCEPTIONS = {"men": "man", "women": "woman", "children": "child", "people": "person",
                        "policemen": "policeman", "fishermen": "fisherman", "henchmen": "henchman",
                        "gunmen": "gunman", "firemen": "fireman", "cowmen": "cowman", "footmen": "footman"}


def _singular(word: str) -> str:
    if word in _SINGULAR_EXCEPTIONS:
        return _SINGULAR_EXCEPTIONS[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=4096)
def role_of_caps(phrase: str) -> str | None:
    """"cast", "extras" or None for a capitalised phrase: HAIRDRESSER is a part, BOYS are extras,
    THE JAZZ BAND is a group (extras); SCREEN DOOR and PORSCHE are neither."""
    words = phrase.lower().replace("’", "'").split()
    if not words:
        return None
    head = words[-1].strip(".'")
    two = " ".join(words[-2:]) if len(words) > 1 else ""
    if head in PERSON_NOUNS or two in PERSON_NOUNS:
        return "cast"
    if head in GROUP_NOUNS:
        return "extras"
    single = _singular(head)
    if single != head and (single in PERSON_NOUNS or single in GROUP_NOUNS):
        return "extras"
    found = wordnet_noun(head)  # a role no list names: "A PHARMACIST", "Two HOODS" (not the PRINTER)
    if found is not None and found[0] is Category.CAST and not lookup_match(head) and head not in MACHINE_CUES:
        return "cast" if found[1] == head else "extras"
    return None


@dataclass
class CastIndex:
    """Every name a character goes by in a script, and the regex that finds them in action."""

    canonical: dict[str, str]  # any upper-case name or alias -> the name on the call sheet
    roles: set[str] = field(default_factory=set)  # canonical names that are common nouns (GIRL, NURSE)
    pattern: re.Pattern[str] | None = None
    # The same pattern in lower case without re.IGNORECASE, for ASCII text when every name is ASCII:
    # there the two find the same spans, and a case-sensitive scan is faster.
    ascii_pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def build(cls, names: dict[str, str]) -> "CastIndex":
        names = {k: v for k, v in names.items() if k and len(k) > 1}
        roles = {v for k, v in names.items() if k == v and k.lower() in PERSON_NOUNS | {"dog", "cat", "horse"}}
        ordered = sorted(names, key=len, reverse=True)
        pattern = ascii_pattern = None
        if ordered:
            source = r"(?<![\w'’])(?:" + "|".join(re.escape(n) for n in ordered) + r")(?![A-Za-z])"
            pattern = re.compile(source, re.IGNORECASE)
            if all(n.isascii() for n in ordered):
                ascii_pattern = re.compile(r"(?<![\w'’])(?:" + "|".join(re.escape(n.lower()) for n in ordered)
                                           + r")(?![a-z])")
        return cls(canonical=names, roles=roles, pattern=pattern, ascii_pattern=ascii_pattern)

    def is_name(self, word: str) -> bool:
        return word.upper() in self.canonical

    def mentions(self, text: str, quoted: list[tuple[int, int]]) -> Iterable[tuple[int, str]]:
        """(offset, canonical name) for each mention that puts the character in the scene."""
        if self.pattern is None:
            return
        lower = None
        screens: list[int] | None = None  # where "on the monitor", "a photo of" end in this paragraph
        if self.ascii_pattern is not None and text.isascii():
            lower = text.lower()
            matches = self.ascii_pattern.finditer(lower)
        else:
            matches = self.pattern.finditer(text)
        for m in matches:
            start, end = m.span()
            found = text[start:end]
            if quoted and any(a <= start < b for a, b in quoted):
                continue
            name = self.canonical.get(found.upper().replace("’", "'"))
            if name is None:
                continue
            if lower is None:
                lower = text.lower()
            if not found[0].isupper():
                # "the girl" for a character cued GIRL; any other lower-case word is not a name
                if not (name in self.roles and _prev_word(lower, start)[0] == "the"):
                    continue
            elif (not found.isupper() or len(found) < 3) and (_prev_word(lower, start)[0] or "") in _NOT_BEFORE_NAME:
                continue  # "in June", "a Lily", "a photo of Kate"
            if screens is None:
                screens = [s.end() for s in _ON_A_SCREEN.finditer(lower)] if _SCREEN_WORD.search(lower) else []
            if screens and any(start - 60 <= e <= start and not _FULL_STOP.search(lower, e, start) for e in screens):
                continue  # "On the monitor: Maya's face in the rain" is a picture of her
            if text.startswith(("'s ", "’s "), end):
                after = lower[end + 3:end + 30].split(" ", 1)[0].strip(".,;:!?")
                if after in _NOT_PRESENT_AFTER_POSSESSIVE:
                    continue
            yield start, name


# --------------------------------------------------------------------------- elements of one paragraph

class Found(NamedTuple):
    """One element of a paragraph: a tuple, so a reading stores it as it is."""

    category: Category
    name: str
    offset: int


def quoted_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _QUOTED.finditer(text)] if ('"' in text or "“" in text) else []


def caps_parts(text: str) -> tuple[tuple[int, int, str, str], ...]:
    """(start, end, name, "cast"|"extras") for capitalised parts in an action paragraph."""
    out: list[tuple[int, int, str, str]] = []
    if _TWO_CAPS.search(text) is None:
        return ()
    for m in _CAPS_PHRASE.finditer(text):
        phrase = m.group(1)
        kind = role_of_caps(phrase)  # most capitals are names (MAYA): None, from its cache
        if kind is None or len(phrase) < 2 or not any(c.isalpha() for c in phrase):
            continue
        # A whole sentence in capitals ("THE DOORBELL RINGS TWICE.") is emphasis, not a part.
        if len(phrase.split()) > 4:
            continue
        if kind == "cast" and (_COUNT_WORD.match(m.group(0))
                               or _COUNTED.search(text, max(0, m.start() - 12), m.start())):
            kind = "extras"  # "two GUNMEN", "THREE THUGS"
        name = _LEADING_ARTICLE.sub("", phrase)
        out.append((m.start(1), m.end(), name, kind))
    return tuple(out)


def elements_of(text: str, cast: CastIndex, quoted: list[tuple[int, int]],
                skip: list[tuple[int, int]]) -> Iterable[Found]:
    """Every non-cast element in one paragraph of action (or a parenthetical), with its offset.

    ``quoted`` spans (signs, texts, lyrics) and ``skip`` spans (a capitalised part's name) hold no
    element. A container with its content is one element named by the content ("a mug of cocoa"),
    and of two listed nouns in a row the first only qualifies the second ("helmet lamps").
    """
    lower = text.lower()
    if len(lower) == len(text):
        matches = list(compiled()[0].finditer(lower))
    else:  # rare letters whose lower case is longer: keep offsets right
        matches = list(compiled_any_case().finditer(text))
        lower = text
    firsts = wordnet_first_words()
    compounds = [(m.start(), e) for m in matches if m.group(0) in firsts and (e := _compound_end(lower, m))]
    if compounds:  # "ice axes": neither "ice" nor "axes" is read alone
        matches = [m for m in matches if not any(a <= m.start() < b for a, b in compounds)]
    keys = set(_TRIGGER.findall(lower))  # one pass: which phrase and stunt rules can match at all
    phrases = sorted(i for key in keys if key in _NOT_ELEMENTS_OF for i in _NOT_ELEMENTS_OF[key]) if keys else ()
    bad = [m.span(1 if pattern.groups else 0) for pattern in [_NOT_ELEMENTS[i] for i in phrases]
           for m in pattern.finditer(lower)]  # a group, if any, is the part that is no element
    # where a listed noun ends ("the phone| rings"); not an adjective the lists map to a thing ("muddy| boots")
    ends = {m.end() for m in matches if not (m.group(0).endswith(_ADJECTIVE_ENDS) and _adjective_form(m.group(0)))}
    dressing: list[re.Match[str]] = []  # the set dressing the lists found here
    context = _Context(lower)
    table = compiled()[1]
    modifiers = _modifier_words()
    for i, m in enumerate(matches):
        start, end = m.span()
        if (bad and any(a <= start < b or a < end <= b for a, b in bad)) or (skip and any(
                a <= start < b for a, b in skip)) or (quoted and any(a <= start < b for a, b in quoted)):
            continue
        nxt = matches[i + 1] if i + 1 < len(matches) else None
        if nxt is not None and nxt.start() - end < 40 and (
                not (between := lower[end:nxt.start()]).strip() or "of" in between) and _qualifies(lower, m, nxt):
            continue  # (words between them and no "of": _qualifies says no)
        word = m.group(0)
        terms: tuple[Term, ...] | None = table.get(word)
        if terms is None:
            terms = lookup_match(word)
        if lower.startswith(" ", end) and (nxt is None or nxt.start() != end + 1) and word in modifiers \
                and (head := _NOUN.match(lower, end + 1)) is not None and _modifies(lower, head):
            continue  # "red vinyl booths": a word of music or effects only qualifies a thing the table names
        verb: bool | None = None
        for term in terms:
            if term.noun:
                if verb is None:
                    verb = is_verb_use(lower, start, end, cast.is_name, ends, text)
                if verb and not (term.canonical in _WEATHER):
                    continue
            if term.category is not _ANIMALS and term.canonical not in _REFINED:
                found = term.category, term.canonical  # most words: nothing _refine reads applies
            else:
                found = _refine(term, lower, start, end, cast.is_name)
            if found is None or (found[0] is Category.EXTRAS and lower.startswith(("'s", "’s"), end)):
                continue  # "the crew's leader" is one person, not the crew
            category = found[0]
            if context.compares and _compared(lower, start, context.compares):
                continue  # "a tube barely wider than a bus", "the size of a dustbin": a comparison, no element
            if category is _SET_DRESSING:
                dressing.append(m)
            elif category is _PROPS:
                if context.holders and _ON_FIXTURE.search(lower, max(0, start - 50), start):
                    category = _SET_DRESSING  # "shelves of books", "a rack of plates": dressed, not handled
            elif category is _SFX:
                if context.far and _HEARD_FAR.search(lower, max(0, start - 24), start):
                    category = Category.SOUND  # "a distant explosion" is heard, not shown
            elif category is _EXTRAS:
                if context.heard and _HEARD_OF.search(lower, max(0, start - 30), start):
                    continue  # "the roar of the crowd through the walls": heard, not in the scene
            elif category is _ANIMALS or category is _VEHICLES:
                if context.depicts and _DEPICTED.search(lower, max(0, start - 60, lower.rfind(". ", 0, start) + 1),
                                                        start):
                    continue  # "a tattoo of a fish", "a photo of Dad holding up a huge fish": a picture of one
                if category is _ANIMALS and context.unseen and _HEARD_ONLY.match(lower, end) \
                        and _FAR_MARK.search(lower, start, _sentence_end(lower, end)):
                    continue  # "An owl hoots somewhere in the dark": heard, and the call is its sound element
            yield Found(category, found[1], start)
    spans = bad + skip + quoted
    tokens = _NOUN.findall(lower)
    present = set(tokens)
    yield from _general_nouns(text, lower, matches, spans, cast, ends, context.compares, tokens, present)
    if dressing:  # "pipes and valves", "wheelie bins and stacked beer kegs": the next item is dressing too
        yield from _dressing_mates(text, lower, matches, dressing, spans, cast.is_name)
    if "!" in text:
        for m in _SOUND_WORD.finditer(text):
            word = m.group(1)
            if not cast.is_name(word) and not lookup_match(word.lower()):
                yield Found(Category.SOUND, word.lower(), m.start(1))  # "FWOOSH!", "BANG!"
    # a call is a word of its own after a blank, so a word of the paragraph (or its part before a hyphen)
    calls = not present.isdisjoint(_CALL_FORMS) or any(t.split("-", 1)[0] in _CALL_FORMS for t in present if "-" in t)
    for m in _ANIMAL_CALL.finditer(lower) if calls and _CALL_WORD.search(lower) else ():  # "Gulls wheel and cry": a sound
        animal = lookup_match(m.group(1))
        wordnet = wordnet_noun(m.group(1))
        if any(t.category is Category.ANIMALS for t in animal) or (
                not animal and wordnet is not None and wordnet[0] is Category.ANIMALS):
            call = m.group(2)
            call = "cry" if call == "cries" else call[:-1] if call.endswith("s") else call
            yield Found(Category.SOUND, _singular(m.group(1)) + " " + call, m.start(2))
    for m in _SOUND_VERB_AT.finditer(lower) if not (keys & _SOUND_STEMS) <= _READ_SOUNDS else ():  # "the fridge hums"
        subject = _SUBJECT_BEFORE.search(lower, max(0, m.start() - 40), m.start())
        found = _thing_sound(text, lower, subject, m, matches, cast.is_name) if subject is not None else None
        if found is not None:
            yield Found(Category.SOUND, found, m.start())
    if "hair" in lower:  # "frizzy hair", "grey-streaked hair": hair called out in a description
        for m in _DESCRIBED_HAIR.finditer(lower):
            word = m.group(1)
            if not (word in _DET or word in _PREP or word in _SUBJ or word in _OBJ or word in _CONJ or word in _AUX
                    or word.endswith(("'s", "’s")) or cast.is_name(word) or lookup_match(word + " hair")):
                yield Found(Category.MAKEUP_HAIR, word + " hair", m.start())
    if "smoking " in lower:  # "a smoking pistol": the smoke is an effect, the pistol stays a prop
        for m in _SMOKING_GUN.finditer(lower):
            yield Found(Category.SPECIAL_EFFECTS, "smoke", m.start())
    if "we hear" in lower:
        for m in _WE_HEAR.finditer(text):
            yield Found(Category.SOUND, normalise_name(_short_name(m.group(1))), m.start())
    if "O.S." in text or "O.C." in text or "screen" in lower:
        for m in _OFF_MARK.finditer(text):
            found = _words_before_mark(text, m.start())
            if found is not None:
                yield Found(Category.SOUND, normalise_name(_short_name(found[1])), found[0])
    sentences: set[int] = set()
    for start, name in sorted(_stunts(text, lower, keys & _STUNT_WORDS)):
        if any(a <= start < b for a, b in quoted):
            continue
        if name in _NEEDS_AGENT and not _has_agent(text, start, cast.is_name):
            if name == "crash":
                yield Found(Category.SPECIAL_EFFECTS, "breakaway", start)  # "a rock smashes through the window"
            continue
        sentence = _sentence_start(text, start)
        if sentence not in sentences:  # one stunt per sentence: a beat, not every verb in it
            sentences.add(sentence)
            yield Found(Category.STUNTS, name, start)
    if "SUPER" in text or "TITLE" in text or "CHYRON" in text or "CAPTION" in text or "LOWER THIRD" in text:
        for m in _TITLE_CARD.finditer(text):
            yield Found(Category.VISUAL_EFFECTS, "title card", m.start())
    if "ON " in text or "INSERT" in text or "text" in lower or "display" in lower or "reads" in lower \
            or "shows" in lower:
        for m in _SCREEN_INSERT.finditer(text):
            yield Found(Category.VISUAL_EFFECTS, "screen insert", m.start())


_NEXT_NOUN = re.compile(r" ([a-z][a-z\-]*[a-z])")


class _Compounds(dict):
    """(listed word, next word) -> whether the two are a compound of another category than the
    word's own (see _compound_end), decided once per pair of words."""

    def __missing__(self, key: tuple[str, str]) -> bool:
        found = wordnet_noun(key[0] + " " + key[1])
        value = self[key] = not (found is None or found[0] is None or found[0] is Category.CAST
                                 or any(t.category is found[0] for t in lookup_match(key[0])))
        return value


_COMPOUNDS = _Compounds()


def _compound_end(lower: str, m: re.Match[str]) -> int:
    """Where the compound noun ends that a listed word only starts, naming a thing of another
    category: "ice axes" (props, not ice), "fire hydrant" (not fire); 0 if none. _general_nouns
    reads the compound."""
    if m.group(0) not in wordnet_first_words():
        return 0
    nxt = _NEXT_NOUN.match(lower, m.end())
    if nxt is None:
        return 0
    if len(_COMPOUNDS) > 100_000:  # bound the memo for long-running services
        _COMPOUNDS.clear()
    if not _COMPOUNDS[(m.group(0), nxt.group(1))]:
        return 0  # "a paper cup of tea": the lists read it as they would "a cup of tea"
    return nxt.end()


_ADJECTIVE_ENDS = ("y", "ed", "ing")


@lru_cache(maxsize=4096)
def _adjective_form(word: str) -> bool:
    """A listed word that is an adjective of the thing it maps to: "muddy" (mud), "bloodied" (blood)."""
    return word.endswith(_ADJECTIVE_ENDS) and all(t.canonical != word for t in lookup_match(word))


# --------------------------------------------------------------------------- nouns no list names

_NOUN = re.compile(r"[a-z][a-z\-]*[a-z]")
_FRAGMENT_END = frozenset({",", ".", ":", ";", "\n", ""})
_LIST_MARK = re.compile(r"(?:,\s+(?:and\s+|or\s+)?|\s+(?:and|or)\s+)$")


def _is_noun_here(lower: str, m: re.Match[str]) -> bool:
    """Whether the word at ``m``, right after a noun, is a noun too (so the first one only qualifies
    it): not an -s verb ("the samovar hisses.", "the cart rattles past") nor a word no list reads."""
    word = m.group(0)
    found = wordnet_noun(word)
    if not (found is not None  # a noun of the table, even one that is no element ("doggy food")
            or any(t.category in NOUN_CATEGORIES and t.noun for t in lookup_match(word))):
        return False
    after = _word_after(lower, m.end())
    return not (word.endswith("s") and not word.endswith("ss") and (
        after is None or after in _DET or after in _OBJ or after in _PREP or after in _PARTICLES))


def _modifies(lower: str, head: re.Match[str]) -> bool:
    """Whether a listed word right before ``head`` only qualifies it: ``head`` is a thing the
    WordNet table names and the phrase ends with it ("red vinyl booths.", "a leather satchel,")."""
    if lower[head.end():head.end() + 1] not in _FRAGMENT_END:
        return False
    found = wordnet_noun(head.group(0))
    return found is not None and found[0] is not None and found[0] is not Category.CAST


def _object_of_verb(lower: str, start: int, is_name: Callable[[str], bool], ends: set[int]) -> bool:
    """Whether the word at ``start`` directly follows a verb, as its object: "Jack pours bourbon"."""
    p, p_start = _prev_word(lower, start)
    if p is None or not p.endswith("s") or p.endswith("ss") or p in _DET or p in _PREP:
        return False
    return is_verb_use(lower, p_start, p_start + len(p), is_name, ends)


def _after_listed_item(lower: str, start: int, ends: set[int], listed: set[int]) -> bool:
    """Whether the word at ``start`` is the next item of a list of things: "ropes, ice axes, crampons"."""
    m = _LIST_MARK.search(lower, max(0, start - 8), start)
    return m is not None and (m.start() in ends or m.start() in listed)


@lru_cache(maxsize=1)
def _second_words() -> frozenset[str]:
    """Every word that ends a compound of wordnet_first_words(): a paragraph without one has none."""
    return frozenset().union(*wordnet_first_words().values())


class _ThingHeads(dict):
    """word -> whether the WordNet table names it as a thing (an element of a category other than
    cast), decided once per distinct word: most words of a paragraph are none."""

    def __missing__(self, word: str) -> bool:
        sense = wordnet_noun(word)
        value = self[word] = sense is not None and sense[0] is not None and sense[0] is not Category.CAST
        return value


_THING_HEADS = _ThingHeads()


def _general_nouns(text: str, lower: str, matches: list[re.Match[str]], spans: list[tuple[int, int]],
                   cast: CastIndex, ends: set[int], compares: list[int] | None = None,
                   tokens: list[str] | None = None, present: set[str] | None = None) -> Iterable[Found]:
    """Things no word list names, found by the meaning of a noun phrase's head in WordNet.

    A noun phrase here is a determiner, possessive, number or preposition, up to two more words,
    then the noun ("a rusted barometer", "with crampons"); its head is the last noun before a word
    that is not one ("the garbage cans rattle": "cans"), and a two-word compound WordNet lists is
    one head ("a ferris wheel"). The head's most frequent sense decides the category (DR021).
    """
    firsts = wordnet_first_words()
    compares = _comparisons(lower) if compares is None else compares  # "wider than a bus"
    if tokens is None or present is None:  # the caller's _NOUN.findall(lower) and its set, if it has them
        tokens = _NOUN.findall(lower)
        present = set(tokens)
    # the words that can head an element here: nouns of the table that name a thing (a person is
    # cast, which names and parts decide), and first words of a compound whose second word is in
    # the paragraph too
    if len(_THING_HEADS) > 100_000:  # bound the memo for long-running services
        _THING_HEADS.clear()
    heads = set(filter(_THING_HEADS.__getitem__, present))
    seconds = present.intersection(_second_words())  # the words here that end a compound (few)
    if seconds:
        heads.update(w for w in filter(firsts.__contains__, present) if not firsts[w].isdisjoint(seconds))
    if not heads:
        return  # most paragraphs: no thing the lists do not already read
    taken = [(m.start(), m.end()) for m in matches] + spans
    listed: set[int] = set()  # where the nouns this pass found end
    words = list(_NOUN.finditer(lower))  # the tokens again, with their offsets
    read_to = 0  # the second word of a compound just read is not read again
    for i in [k for k, token in enumerate(tokens) if token in heads]:  # most words are no head
        if i < read_to:
            continue
        m = words[i]
        word = tokens[i]
        compound = word in firsts and not firsts[word].isdisjoint(seconds)
        start, end = m.start(), m.end()
        nxt = words[i + 1] if i + 1 < len(words) and lower[end:words[i + 1].start()] == " " else None
        found = None
        if nxt is not None and compound:
            found = wordnet_noun(word + " " + nxt.group(0))
            if found is not None:
                end = nxt.end()
                nxt = words[i + 2] if i + 2 < len(words) and lower[end:words[i + 2].start()] == " " else None
                read_to = i + 2
        if found is None:
            found = wordnet_noun(word)
            if found is None:
                continue
        if found[0] is None or found[0] is Category.CAST or any(a < end and start < b for a, b in taken):
            continue
        if nxt is not None and _is_noun_here(lower, nxt):
            continue  # a modifier: "the garbage cans", "a leather holster"
        if cast.is_name(word):
            continue
        in_sentence = _words_before(lower, start, 3)
        if text[start].isupper() and not text[start:end].isupper() and in_sentence:
            continue  # a name inside a sentence ("Mr. Fox")
        before = _words_before(lower, start, 3, _CLAUSE_MARKS)
        if not any(w in _DET or w in _PREP or w.endswith(("'s", "’s")) or w[:1].isdigit() for w in before) \
                and not _after_listed_item(lower, start, ends, listed) \
                and not (len(in_sentence) <= 1 and lower[end:end + 1] in _FRAGMENT_END) \
                and not _object_of_verb(lower, start, cast.is_name, ends):
            continue  # not a noun phrase; a fragment ("Garbage cans, steam from a grate.") is one
        if is_verb_use(lower, start, end, cast.is_name, ends, text) or compares and _compared(lower, start, compares):
            continue
        listed.add(end)
        category, name = found
        toy = _TOY.search(lower, max(0, start - 14), start) if category in (Category.VEHICLES,
                                                                            Category.ANIMALS) else None
        if toy is not None:
            category, name = Category.PROPS, toy.group(1) + " " + name  # "a paper aeroplane"
        yield Found(category, name, start)


_CALLS = ("cry|cries|calls?|caws?|squawks?|bleats?|growls?|purrs?|honks?|quacks?|coos?|clucks?|yelps?|snarls?|"
          "whimpers?|roars?|cackles?|brays?|squeals?|grunts?|warbles?|twitters?")
# One of the calls ending a word: a cheap test before _ANIMAL_CALL (a word list without a leading
# \b lets the regex engine skip to the letters a call can start with).
_CALL_FORMS = frozenset(form for call in _CALLS.split("|")
                        for form in ((call[:-2], call[:-1]) if call.endswith("s?") else (call,)))
_CALL_WORD = re.compile(trie_regex(sorted(_CALL_FORMS)) + r"\b")
_ANIMAL_CALL = re.compile(r"\b([a-z]+)\s+(?:[a-z]+\s+and\s+)?(" + _CALLS + r")\b(?![\w'’])")
# Stems whose -s form the lists already read as a sound whatever its subject ("screeches", "beeps"):
# a paragraph with only these needs no scan for a thing's sound.
_READ_SOUNDS = frozenset(v for v in _SOUND_VERBS if all(
    any(t.category is Category.SOUND and not t.noun for t in lookup_match(form))
    for form, verb in _SOUND_FORMS.items() if verb == v))
_SOUND_VERB_AT = re.compile(r"\b" + trie_regex(sorted(_SOUND_FORMS)) + r"(?![\w'’\-])")
_SUBJECT_BEFORE = re.compile(r"(?<![\w'’\-])([a-z][a-z'’\-]*)\s+(?:[a-z]+ly\s+)?$")


def _thing_sound(text: str, lower: str, m: re.Match[str], verb_match: re.Match[str], matches: list[re.Match[str]],
                 is_name: Callable[[str], bool]) -> str | None:
    """The name of the sound a thing makes ("machine hum"), or None when the subject is a person, a
    pronoun or no noun, or the lists already read the sound there ("the phone rings", "beeps").
    ``m`` holds the subject (group 1), ``verb_match`` the verb."""
    subject = m.group(1).strip("'’-")
    if subject in _DET or subject in _SUBJ or subject in _AUX or subject in _PREP or subject in _CONJ \
            or subject in _OBJ or is_name(subject) or text[m.start(1)].isupper() and not text[m.start(1):m.end(1)].isupper() \
            and _words_before(lower, m.start(1), 1):
        return None  # "she hums", "Nell hums", "and beeps"
    verb = verb_match.group(0)
    if not verb.endswith("s") and not (subject.endswith("s") and not subject.endswith(("ss", "'s", "’s"))):
        return None  # the plain form after a plural only ("pans hiss"), not "to hum"
    single = _singular(subject)
    if single in PERSON_NOUNS or subject in PERSON_NOUNS:
        return None
    terms = lookup_match(subject)
    sense = wordnet_noun(subject)
    if any(t.category in (Category.SOUND, Category.SPECIAL_EFFECTS, Category.MUSIC) for t in terms) \
            or sense is not None and sense[0] is Category.CAST:
        return None  # "the wind roars", "fire roars": the effect carries its sound
    for other in matches:  # the lists read a sound here already ("phone rings", "beeps=beep")
        if other.start() < verb_match.end() and m.start(1) < other.end() and any(
                t.category is Category.SOUND and not t.noun for t in lookup_match(other.group(0))):
            return None
    before = _words_before(lower, m.start(1), 2, _CLAUSE_MARKS)
    if not (terms or sense is not None or not _words_before(lower, m.start(1), 1) or any(
            w in _DET or w.endswith(("'s", "’s")) for w in before)):
        return None  # not a noun phrase ("Jack hums", "quietly beeps"); a sentence's first word is ("Surf booms")
    return single + " " + _SOUND_FORMS[verb]


_NEXT_ITEM = re.compile(r"(?:,\s+(?:and\s+)?|\s+and\s+)(?:(a|an|the|some|two|three|four|more|other)\s+)?"
                        r"((?:[a-z][a-z\-]*\s+){0,2}?)([a-z][a-z\-]*[a-z])(?=\s*(?:[.,;:!?]|$|\n|\s(?:and|on|in|at|"
                        r"with|from|of|by|along|under|behind|against)\b))")


def _dressing_mates(text: str, lower: str, matches: list[re.Match[str]], dressing: list[re.Match[str]],
                    spans: list[tuple[int, int]], is_name: Callable[[str], bool]) -> Iterable[Found]:
    """The next item of a list after a piece of set dressing, when no list nor the WordNet table
    names it: things listed together are alike ("a maze of pipes and valves", "wheelie bins and
    stacked beer kegs"). Without a determiner both must be plural, so a verb ("and sits") is not one."""
    taken: list[tuple[int, int]] | None = None
    for m in dressing:
        if not lower.startswith((",", " and "), m.end()):
            continue  # most: no list goes on after it
        nxt = _NEXT_ITEM.match(lower, m.end())
        if nxt is None:
            continue
        if taken is None:
            taken = [(m.start(), m.end()) for m in matches] + spans
        head = nxt.group(3)
        start = nxt.start(3)
        if lookup_match(head) or wordnet_noun(head) is not None or head in PERSON_NOUNS or is_name(head) \
                or head in _DET or head in _PREP or head in _SUBJ or head in _OBJ or head in _AUX or head in _CONJ \
                or head.endswith(("ly", "ing", "ed")) or text[start].isupper() \
                or any(a < nxt.end() and nxt.start(2) < b for a, b in taken):
            continue
        plural = head.endswith("s") and not head.endswith(("ss", "us", "is"))
        if nxt.group(1) is None and not (plural and m.group(0).endswith("s")):
            continue
        modifiers = nxt.group(2).split()
        if any(w in _DET or w in _PREP or w in _SUBJ or w in _CONJ or is_name(w) for w in modifiers):
            continue
        yield Found(Category.SET_DRESSING, _singular(head) if plural else head, start)


_ON_FIXTURE = re.compile(r"\b(?:shelves|shelf|bookshelves|bookcases?|racks?|cabinets?|display cases?|banks|"
                         r"dressers?|sideboards?|mantelpieces?)\s+of\s+(?:[a-z][\w\-]*\s+){0,2}$")
_COMPARISON = re.compile(r"(?:(?<!would )(?<!'d )(?<!’d )(?<!\bdo )(?<!\bdoes )(?<!\bdon't )(?<!\bdoesn't )\blike|\bthan|\bsize\s+of|\bas\s+[a-z]+\s+as)\s+(?:a|an|the|some)?\s*(?:[a-z][\w\-]*\s+)?$")


_PROPS, _SFX, _EXTRAS, _ANIMALS, _VEHICLES, _SET_DRESSING = (
    Category.PROPS, Category.SPECIAL_EFFECTS, Category.EXTRAS, Category.ANIMALS, Category.VEHICLES,
    Category.SET_DRESSING)


@lru_cache(maxsize=1)
def _modifier_words() -> frozenset[str]:
    """Listed words whose first reading is music, an effect or a sound ("vinyl", "smoke"): before a
    thing the WordNet table names they may only qualify it."""
    return frozenset(w for w, terms in compiled()[1].items() if terms[0].category not in NOUN_CATEGORIES)


class _Context:
    """Which of the rarer context rules can apply in a paragraph: each test runs once, and only
    when an element of a category it concerns is found there (most paragraphs need none)."""

    __slots__ = ("lower", "compares", "_of", "_depicts", "_unseen", "_heard", "_holders", "_far")

    def __init__(self, lower: str) -> None:
        self.lower = lower
        self.compares = _comparisons(lower)  # where a word of comparison ends ("than", "like")
        self._of = " of " in lower
        self._depicts = self._unseen = self._heard = self._holders = self._far = None

    def _any(self, words: tuple[str, ...]) -> bool:
        lower = self.lower
        for w in words:  # a loop, not any(): no generator per test
            if w in lower:
                return True
        return False

    @property
    def depicts(self) -> bool:  # "a tattoo of", "a photo of"
        if self._depicts is None:
            self._depicts = self._of and self._any(_DEPICTION_WORDS)
        return self._depicts

    @property
    def far(self) -> bool:  # "distant", "muffled"
        if self._far is None:
            self._far = self._any(_FAR_WORDS)
        return self._far

    @property
    def unseen(self) -> bool:  # "somewhere", "in the distance" (an animal heard O.S. is still wrangled)
        if self._unseen is None:
            self._unseen = self.far or self._any(_UNSEEN_WORDS)
        return self._unseen

    @property
    def heard(self) -> bool:  # "the roar of the"
        if self._heard is None:
            self._heard = self._of and self._any(_HEARD_WORDS)
        return self._heard

    @property
    def holders(self) -> bool:  # "shelves of"
        if self._holders is None:
            self._holders = self._of and self._any(_HOLDER_WORDS)
        return self._holders


_COMPARING = re.compile(r"\b(?:like|than|size\s+of|as\s+[a-z]+\s+as)\s")


def _comparisons(lower: str) -> list[int]:
    """Where a word of comparison ends in a paragraph (most paragraphs: none)."""
    if " like " not in lower and " than " not in lower and "size of" not in lower and lower.count(" as ") < 2:
        return []
    return [m.end() for m in _COMPARING.finditer(lower)]


def _compared(lower: str, start: int, comparisons: list[int]) -> bool:
    """Whether the word at ``start`` is what something is compared to ("wider than a bus", "hang
    like washing", "the size of a dustbin"): a figure of speech, not a thing in the scene.
    ``comparisons`` are _comparisons(lower)."""
    if not any(0 <= start - e <= 30 for e in comparisons):
        return False
    return _COMPARISON.search(lower[max(0, start - 30):start]) is not None


_DEPICTED = re.compile(r"\b(?:tattoo|photo|photograph|picture|snapshot|drawing|painting|portrait|poster|image|statue|"
                       r"carving|figurine|model|sketch|cartoon|postcard)s?\s+of\b")
_HEARD_ONLY = re.compile(r"\s+(?:" + _CALLS + "|" + "|".join(sorted(set(_SOUND_FORMS))) + r"|hoots?|howls?|barks?|"
                         r"chirps?|sings?|croaks?)\b")
_FAR_MARK = re.compile(r"\b(?:somewhere|in the distance|distant|far off|far-off|unseen|out of sight)")


def _sentence_end(lower: str, pos: int) -> int:
    m = _SENTENCE_END.search(lower, pos)
    return m.end() if m else len(lower)


_HEARD_OF = re.compile(r"\b(?:roar|noise|sound|sounds|cheers|cheering|chanting|chants|murmur|din|hubbub|applause|"
                       r"chatter|laughter|shouts|screams)\s+of\s+(?:the|a|an)\s+(?:distant\s+|far-off\s+)?$")
# Substrings one of which each rule above needs: a cheap test per paragraph before any regex.
_DEPICTION_WORDS = ("tattoo", "photo", "picture", "snapshot", "drawing", "painting", "portrait", "poster", "image",
                    "statue", "carving", "figurine", "model", "sketch", "cartoon", "postcard")
_HEARD_WORDS = ("roar", "noise", "sound", "cheer", "chant", "murmur", "din", "hubbub", "applause", "chatter",
                "laughter", "shout", "scream")
_FAR_WORDS = ("distant", "muffled", "far-", "faraway")
_UNSEEN_WORDS = ("distance", "somewhere", "unseen", "out of sight", "far off")
_HOLDER_WORDS = ("shelves of", "shelf of", "bookcase of", "bookcases of", "rack of", "racks of", "cabinet of",
                 "cabinets of", "case of", "cases of", "banks of", "dresser of", "dressers of", "sideboard of",
                 "sideboards of", "mantelpiece of", "mantelpieces of")
_HEARD_FAR = re.compile(r"\b(?:distant|far-off|faraway|far-away|muffled)\s+(?:[a-z]+\s+)?$")
_DESCRIBED_HAIR = re.compile(r"\b([a-z][a-z\-]*[a-z])\s+hair\b(?![\w\-])")
_SMOKING_GUN = re.compile(r"\bsmoking\s+(?:gun|guns|pistol|pistols|revolver|rifle|shotgun|barrel|barrels|muzzle|"
                          r"handgun|musket|colt|luger|derringer)\b")
_OF_CONTENT = re.compile(r"\s+of\s+(?:[\w'’\-]+\s+)?$")
_ADJACENT = re.compile(r"\s+$")
_CONTAINERS = frozenset({"glass", "bottle", "cup", "mug", "teacup", "plate", "bowl", "tray", "box", "bag", "bucket",
                         "ring", "bunch", "pair", "stack", "pile", "handful", "pack", "set", "bundle", "basket", "sack",
                         "carton", "jar", "flask", "thermos", "crate", "can of", "package", "parcel", "pot",
                         "basket", "pitcher", "jug", "wine glass", "shot glass", "champagne glass", "whiskey glass"})


def _qualifies(lower: str, m: re.Match[str], nxt: re.Match[str]) -> bool:
    """True when match ``m`` only qualifies the next one: "a mug of cocoa", "radio handset"."""
    between = lower[m.end():nxt.start()]
    if not between.strip():
        # Two listed nouns in a row: the first qualifies the second ("helmet lamps", "radio handset"),
        # unless the second is a verb here ("the bell rings.", "the door bangs open", "oilskins dripping").
        if not _ADJACENT.fullmatch(between):
            return False
        second = nxt.group(0)
        if not any(t.category in NOUN_CATEGORIES for t in lookup_match(second)) \
                or not any(t.noun for t in lookup_match(m.group(0))) \
                or all(t.category is _EXTRAS for t in lookup_match(m.group(0))):
            # "Townsfolk watch": people do not qualify the next word, which is their verb
            return False  # "a bloody apron": "bloody" is not a thing qualifying the apron
        after = _word_after(lower, nxt.end())
        return not (second.endswith("s") and (after is None or after in _DET or after in _OBJ or after in _PREP
                                              or after in _PARTICLES))
    if "of" in between and _OF_CONTENT.fullmatch(between + " "):
        return any(t.canonical in _CONTAINERS for t in lookup_match(m.group(0)))
    return False


def _sentence_start(text: str, pos: int) -> int:
    cut = 0
    for m in _SENTENCE_END.finditer(text, 0, pos):
        cut = m.end()
    return cut


# The names _refine reads again (besides every animal).
_REFINED = frozenset({"glass", "mouse", "sweat", "collapse"} | _ON_PEOPLE)


def _refine(term: Term, lower: str, start: int, end: int,
            is_name: Callable[[str], bool] = lambda word: False) -> tuple[Category, str] | None:
    """Senses the word lists cannot tell apart by themselves."""
    category, name = term.category, term.canonical
    if category is not Category.ANIMALS and name not in _REFINED:
        return category, name  # most words: nothing below applies
    if name == "glass" and lower.startswith("a ", start):
        after = _word_after(lower, end)
        if after is not None and after not in _PREP and after not in _CONJ:
            return None  # "a glass limb", "a glass door": the material, not a glass
    elif name == "mouse" and category is Category.ANIMALS:
        sentence = lower[max(0, start - 80):end + 80]
        if _MOUSE_CONTEXT.search(sentence):
            return Category.PROPS, "mouse"
    elif category is Category.ANIMALS and _TOY.search(lower, max(0, start - 12), start):
        return Category.PROPS, _TOY.search(lower, max(0, start - 12), start).group(1) + " " + name  # "stuffed rabbit"
    elif name in _ON_PEOPLE and _ON_BODY.match(lower, end):
        return Category.MAKEUP_HAIR, name  # "mud still in his hair", "dust on her face"
    elif name == "sweat":
        if _SWEAT_NOT_PERSON.search(lower[max(0, start - 30):start]):
            return None
    elif name == "collapse" and category is Category.VISUAL_EFFECTS:
        window = lower[max(0, start - 60):end + 40]
        if not _COLLAPSE_BIG.search(window):
            before = lower[max(0, start - 20, _sentence_start(lower, start)):start]  # within its sentence
            subject = (_prev_word(lower, start)[0] or "").strip(_STRIP)
            person = _COLLAPSE_PERSON.search(before) or is_name(subject) or subject in PERSON_NOUNS or (
                (found := wordnet_noun(subject)) is not None and found[0] is Category.CAST)  # "the hood collapses"
            return (Category.STUNTS, "fall") if person else (Category.SPECIAL_EFFECTS, "collapse")
    return category, name


_WE_HEAR = re.compile(r"\bwe hear\s+(?:the\s+|a\s+|an\s+|some\s+)?([^.;!?\n]{1,80})", re.IGNORECASE)
# "A dog barks (O.S.)": the words (up to five) right before an off-screen mark are the sound.
_OFF_MARK = re.compile(r"\(?\s*(?:O\.S\.|O\.C\.|off-?screen)(?:\)|(?=\W)|$)")
_WHOLE_WORD = re.compile(r"[\w'\-]+")


def _words_before_mark(text: str, mark: int) -> tuple[int, str] | None:
    """(offset, text) of up to five words right before an off-screen mark, stopping at punctuation."""
    end = mark
    while end > 0 and text[end - 1] in " \t\n(":
        end -= 1
    start = end
    words = 0
    while words < 5 and start > 0:
        cut = start
        while cut > 0 and not text[cut - 1].isspace():
            cut -= 1
        if not _WHOLE_WORD.fullmatch(text, cut, start):
            break
        start, words = cut, words + 1
        if start == 0 or text[start - 1] != " " and text[start - 1] != "\n" and text[start - 1] != "\t":
            break
        while start > 0 and text[start - 1] in " \t\n":
            start -= 1
        if start > 0 and not (text[start - 1].isalnum() or text[start - 1] in "'-"):
            break
    while start < end and text[start].isspace():
        start += 1
    return (start, text[start:end]) if words else None
_MAX_NAME_WORDS = 6


def _short_name(text: str) -> str:
    words = text.strip().split()
    return " ".join(words[:_MAX_NAME_WORDS]).strip(" ,:-").lower()
