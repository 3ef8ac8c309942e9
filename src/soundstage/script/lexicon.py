"""Word lists that turn action lines into breakdown elements, compiled once into one regex.

Kept in Python rather than YAML so they ship inside the package with no data-file setup.
Each entry is ``"term"`` or ``"variant=canonical"``; regular plurals (-s/-es) are matched
automatically unless the term ends in ``!`` (for words whose plural is usually a verb:
"fires a shot" is not a fire). A word that is also a verb ("watch", "drink", "duck") is listed:
tagger.py reads whether it is used as a verb in its sentence before it becomes an element.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from soundstage.domain.breakdown import Category
from soundstage.script.wordnet_nouns import TABLE

LEXICONS: dict[Category, tuple[str, ...]] = {
    Category.EXTRAS: (
        "crowd", "passer-by=passers-by", "passers-by", "passersby=passers-by", "pedestrian", "patron", "diner",
        "commuter", "onlooker", "shopper", "spectator", "tourist", "customer", "bystander", "mourner", "partygoer",
        "protester", "audience", "dancer", "reveller", "clubgoer", "worshipper", "extras", "soldiers", "guests",
        "students", "workers", "nurses", "police officers", "cops", "inmates", "prisoners", "villagers", "fans",
        "concertgoers", "people", "mob", "children", "kids", "teenagers", "men", "women", "boys", "girls", "thugs",
        "gangsters", "guards", "officers", "agents", "passengers", "travellers", "travelers", "staff", "waiters",
        "waitresses", "doctors", "reporters", "journalists", "photographers", "paparazzi", "marchers", "runners",
        "joggers", "couples", "families", "locals", "townspeople", "crew", "lifeboat crew", "mourners", "dj",
        "string quartet", "townsfolk", "drunks", "walking wounded", "patients", "cowhands", "gamblers",
        "card players", "revellers", "beachgoers", "picnickers", "schoolchildren", "soldiers", "volunteers",
        "parents", "rescuers", "stagehands", "crew members", "chorus", "ensemble", "firefighters", "firemen",
        "paramedics", "medics", "survivors", "refugees", "evacuees", "residents", "neighbours", "neighbors",
        "onlookers=onlooker", "mourners!", "congregation", "worshippers", "pilgrims", "tourists", "hikers",
        "campers", "skiers", "surfers", "swimmers", "sunbathers", "fishermen!", "farmhands", "labourers", "builders",
        "miners", "factory workers", "shoppers!", "diners", "drinkers", "punters", "gamblers!", "clubbers", "ravers",
        "partygoers!", "wedding guests", "courtiers", "servants", "footmen", "maids", "waiters!", "kitchen staff",
        "nurses!", "orderlies", "interns", "clerks", "bankers", "traders", "brokers", "executives", "reporters!",
        "camera crews", "photographers!", "fans!", "supporters", "crowds=crowd", "mobs=mob", "protesters!",
        "rioters", "looters", "troops", "marines", "sailors!", "guards!", "prison guards", "inmates!", "convicts",
        "prisoners!", "bikers!", "thugs!", "goons", "henchmen!", "bodyguards!", "bouncers", "couples", "dancers",
        "children!", "kids!", "toddlers", "babies", "teenagers!", "students!", "classmates", "villagers!",
        "peasants", "nobles", "knights", "monks!", "monks", "nuns", "sailors", "fishermen", "cowboys", "riders",
        "shoppers", "office workers", "bikers", "gang members", "henchmen", "bodyguards", "security guards",
    ),
    Category.PROPS: (
        "gun", "pistol", "revolver", "rifle", "shotgun", "sniper rifle", "sidearm", "handgun", "knife",
        "knives=knife", "sword", "dagger", "ammo", "bullets", "shells", "shotgun shells", "scope", "sniper scope",
        "rifle scope", "silencer", "holster", "taser", "baton", "flare gun", "flare", "phone", "cellphone",
        "cell phone", "smartphone", "mobile phone", "letter", "envelope", "briefcase", "suitcase", "bag",
        "duffel bag", "duffle bag=duffel bag", "shopping bag", "backpack", "handbag", "purse", "wallet", "keys",
        "key", "car keys=keys", "house keys=keys", "cigarette", "cigar", "lighter", "matches", "a glass=glass",
        "glass of=glass", "glasses of=glass", "his glass=glass", "her glass=glass", "their glass=glass", "my glass=glass",
        "your glass=glass", "empty glass=glass", "wine glass", "wineglass=wine glass", "shot glass", "whiskey glass",
        "champagne glass", "champagne glasses=champagne glass", "bottle", "cup", "mug", "teacup", "coffee", "tea",
        "cocoa", "wine", "beer", "whiskey", "whisky=whiskey", "vodka", "champagne", "book", "notebook", "notepad",
        "clipboard", "laptop", "tablet", "camera", "digital camera=camera", "video camera", "flashlight", "torch",
        "map", "money", "cash", "ring", "rings", "ring box", "wedding ring", "wedding band=wedding ring", "necklace",
        "badge", "photo", "photograph", "newspaper", "magazine", "folder", "file", "pen", "pencil", "crayons",
        "umbrella", "flowers", "bouquet", "rose petals", "petals", "candle", "syringe", "pills", "handcuffs", "rope",
        "shovel", "hammer", "axe", "crowbar", "wrench", "screwdriver", "bat", "ball", "tray", "plate", "bowl",
        "sandwich", "sandwiches=sandwich", "cake", "pizza", "burger", "noodles", "eggs", "bread", "apple", "drink",
        "binoculars", "walkie-talkie", "radio", "handset", "microphone", "headphones", "remote", "ticket",
        "passport", "diary", "journal", "document", "contract", "cheque", "check!", "box", "present", "gift",
        "package", "parcel", "flask", "thermos", "chainsaw", "grenade", "bomb", "detonator", "bucket", "blanket",
        "toy", "teddy bear", "stuffed toy", "stuffed seal", "doll", "balloon", "lobster pot", "fishing rod", "net",
        "first aid kit", "medical kit", "kettle", "frying pan", "saucepan", "computer mouse=mouse", "trumpet",
        "hanger", "steamer", "cane", "walking stick", "crutches", "tether", "oxygen tank",
        "oxygen tanks=oxygen tank", "gauge", "plasma cutter", "cutter", "carton", "jar", "can of", "paper", "papers",
        "report", "resume", "photos=photo", "watch", "wristwatch", "message machine",
        "answering machine=message machine", "radio handset=handset", "handbell", "bell", "whistle", "leash",
        "saddle", "lasso", "cigarette lighter", "pipe", "joint", "vape", "ashtray", "candlestick", "briefcase",
        "usb stick", "hard drive", "ledger", "dossier", "gauze", "scalpel", "stethoscope", "clip board=clipboard",
        "coins", "coin", "cards", "playing cards", "poker chips", "deck of cards", "basket", "brush", "hairbrush",
        "toothbrush", "rock", "note", "tube", "drawing", "earpiece", "harness", "telephoto lens", "lens", "gum",
        "penlight", "defibrillator", "paddles", "chewing gum", "cornbread", "soup", "stew", "steak", "fries",
        "popcorn", "candy", "chocolate", "cookies", "muffin", "donut", "doughnut", "bagel", "cheese", "salad",
        "rice", "fruit", "orange", "banana", "pie", "loaf", "sausages", "bacon", "toast", "cereal", "milk", "juice",
        "soda", "water bottle", "lunchbox", "tin", "sack", "bundle", "glass case", "cage", "bottled water",
        "foil blanket", "towel", "plank", "toy rabbit", "teddy", "dummy", "pacifier", "baby bottle", "pram",
        "stroller", "buggy!", "shopping trolley", "trolley", "clipboard", "whistle", "compass", "lighter fluid",
        "petrol can", "jerrycan", "gas can", "fire extinguisher", "extinguisher", "axe", "pickaxe", "sledgehammer",
        "mallet", "spanner", "pliers", "saw", "chisel", "tape measure", "duct tape", "zip ties", "padlock", "chain",
        "bolt cutters", "lockpick", "keycard", "id card", "passport", "boarding pass", "map", "atlas", "globe",
        "telescope", "magnifying glass", "microscope", "test tube", "beaker", "vial", "pill bottle", "inhaler",
        "thermometer", "bandages", "splint", "crutch", "wheelchair", "walking frame", "hearing aid", "dentures",
        "cigarettes=cigarette", "cigarette packet", "matchbox", "ashtray", "hip flask", "shot glasses", "pint",
        "tankard", "goblet", "chalice", "decanter", "wine bottle", "beer can", "thermos flask", "picnic basket",
        "hamper", "lunch box", "sandwich box", "apple core", "banana peel", "ice cream", "lollipop", "birthday cake",
        "candles", "cupcake", "pastry", "croissant", "pancakes", "eggs", "egg", "bacon", "omelette", "burger",
        "hot dog", "noodles", "sushi", "chopsticks", "fork", "spoon", "ladle", "spatula", "cleaver", "rolling pin",
        "whisk", "colander", "teapot", "coffee pot", "cafetiere", "sugar bowl", "milk jug", "napkin", "tablecloth",
        "menu", "receipt", "wallet", "credit card", "banknotes", "envelope", "stamp", "postcard", "telegram",
        "dispatch", "scroll", "parchment", "quill", "inkwell", "typewriter", "fountain pen", "marker", "chalk",
        "ruler", "scissors", "stapler", "sellotape", "glue", "paintbrush", "easel", "canvas", "sketchbook",
        "camera bag", "tripod", "film camera", "polaroid", "photo album", "scrapbook", "calendar", "hourglass",
        "pocket watch", "stopwatch", "alarm clock", "umbrella", "walking cane", "fan", "lorgnette", "monocle",
        "pipe", "snuff box", "sword", "sabre", "rapier", "musket", "pistols=pistol", "arrows", "arrow", "quiver",
        "spear", "shield", "whip", "cane!", "lasso", "reins", "bridle", "horseshoe", "pitchfork", "hoe", "rake",
        "scythe", "sickle", "watering can", "wheelbarrow", "hose", "hosepipe", "flashlight", "torches", "headlamp",
        "glow stick", "flare", "walkie-talkies=walkie-talkie", "radio set", "satellite phone", "sat phone", "pager",
        "headset", "earbuds", "speaker", "boombox", "megaphone", "bullhorn", "loudhailer", "microphone stand",
        "guitar case", "sheet music", "record", "cassette", "cd", "usb drive", "laptop bag", "smartwatch",
        "remote control", "games console", "controller", "joystick", "dice", "chess board", "chess set",
        "chess pieces", "board game", "jigsaw", "football", "basketball", "baseball", "baseball bat",
        "tennis racket", "racket", "golf club", "golf clubs", "hockey stick", "skateboard", "frisbee", "kite",
        "fishing net", "bait", "tackle box", "harpoon", "life ring", "lifebuoy", "oar", "oars", "paddle", "anchor",
        "binoculars", "spyglass", "handgun", "machine gun", "assault rifle", "submachine gun", "uzi", "ak-47",
        "crossbow", "slingshot", "brass knuckles", "switchblade", "machete", "bayonet", "ammunition", "magazine",
        "cartridge", "shell casings", "hand grenade", "landmine", "explosives", "dynamite", "c4", "timer", "wires",
        "briefcase bomb", "duffel", "holdall", "rucksack", "satchel", "tote bag", "clutch bag", "bin bag",
        "garbage bag", "body bag", "stretcher", "iv drip", "drip", "oxygen mask", "gas mask", "respirator",
        "hazmat suit!", "crowbar", "grappling hook", "rope ladder", "climbing rope", "carabiner",
        "radio plays=radio", "phone rings=phone", "phone buzzes=phone", "phone vibrates=phone", "ice pack",
        "music box", "earbud", "script", "screenplay", "roses", "rose", "lilies", "tulips", "daisies", "sunflowers",
        "wreath", "needle", "thread", "sewing kit", "knitting", "yarn",
    ),
    Category.WARDROBE: (
        "suit", "morning suit", "pastel suits=suit", "dress", "gown", "uniform", "school uniform", "jacket", "coat",
        "overcoat", "raincoat", "trench coat", "oilskins", "hat", "cap", "helmet", "boots", "rubber boots", "shoes",
        "sneakers", "heels", "tuxedo", "scarf", "gloves", "apron", "robe", "silk robe=robe", "bathrobe", "pyjamas",
        "pajamas", "hoodie", "sweater", "jeans", "shirt", "silk shirt", "t-shirt", "blouse", "skirt", "tie",
        "bow tie", "vest", "overalls", "costume", "mask", "sunglasses", "glasses", "veil", "wedding dress",
        "lab coat", "scrubs", "hospital gown", "armour", "armor", "cloak", "kimono", "sari", "bikini", "swimsuit",
        "underwear", "lingerie", "pressure suit", "space suit", "spacesuit", "life jacket", "lifejacket=life jacket",
        "wetsuit", "gold chain", "gold chains=gold chain", "chains", "earrings", "bracelet", "beanie", "balaclava",
        "poncho", "cardigan", "waistcoat", "stetson", "cowboy hat", "spurs", "petticoat", "bonnet", "corset",
        "turban", "hijab", "sash", "cape", "fatigues", "camouflage", "fleece", "nightdress", "nightgown", "nightie",
        "lanyard", "neck brace", "duster", "tin star", "knitted cap", "dressing gown", "slippers", "flip-flops",
        "sandals", "leotard", "tracksuit", "bodysuit", "catsuit", "braces", "suspenders", "wellies", "wellingtons",
        "anorak", "parka", "puffer jacket", "windbreaker", "jersey", "cycling jersey", "football shirt", "shorts",
        "trousers", "slacks", "chinos", "leggings", "tights", "stockings", "socks", "loafers", "brogues", "trainers",
        "boots!", "stilettos", "high heels", "flat cap", "top hat", "bowler hat", "fedora", "trilby", "baseball cap",
        "beret", "bandana", "headscarf", "veil", "tiara", "crown", "wedding ring!", "engagement ring", "pearls",
        "pearl necklace", "brooch", "cufflinks", "tie pin", "wristband", "anklet", "medal", "medals", "epaulettes",
        "naval uniform", "military uniform", "police uniform", "nurse's uniform", "chef's whites", "overall",
        "boiler suit", "hazmat suit", "hi-vis vest", "hi-vis jacket", "body armour", "body armor",
        "bulletproof vest", "kevlar vest", "riot gear", "flight suit", "jumpsuit", "prison jumpsuit",
        "orange jumpsuit", "kilt", "toga", "tunic", "doublet", "breeches", "tailcoat", "tailcoats=tailcoat",
        "frock coat", "waistcoat", "cravat", "muslin", "ball gown", "evening gown", "cocktail dress", "sundress",
        "nightshirt", "robes", "cassock", "surplice", "burqa", "niqab", "gloves!", "mittens", "oven gloves",
        "rubber gloves", "latex gloves", "goggles", "visor", "cowl", "wig!", "headdress", "feathered turban",
        "fur coat", "mink", "shawl", "poncho", "sarong",
    ),
    Category.MAKEUP_HAIR: (
        "blood", "bloody=blood", "bloodied=blood", "bleeding=blood", "bleeds=blood", "blood-soaked=blood", "bruise",
        "bruised=bruise", "scar", "wound", "cut", "gash", "graze", "grazed=graze", "tattoo", "sweat",
        "sweating=sweat", "sweats=sweat", "sweaty=sweat", "tears", "wig", "beard", "moustache", "mustache", "makeup",
        "make-up", "lipstick", "mascara", "concealer", "bandage", "bandaged=bandage", "black eye", "ponytail",
        "braids", "braid", "dreadlocks", "bald", "grey hair", "gray hair", "silver hair", "white hair", "stubble",
        "prosthetic", "burns", "scratches", "pale", "dirt-smeared", "mud-caked", "hairdo", "bun", "wrinkles",
        "curlers", "grease", "soot", "bloodshot", "split lip", "swollen", "stitches", "plaster cast",
        "in a cast=plaster cast", "sling", "freckles", "piercing", "nose ring", "crying=tears", "weeping=tears",
        "tear-stained=tears", "tearful=tears", "teary=tears", "bearded=beard", "beehive", "pigtails", "mohawk",
        "quiff", "crew cut", "buzz cut", "afro", "cornrows", "mullet", "perm", "sideburns", "goatee",
        "frostbitten=frostbite", "blisters", "blistered=blisters", "chipped tooth", "missing tooth", "gap-toothed",
        "soaked=wet", "drenched=wet", "soaking wet=wet", "wet through=wet", "mud-spattered=mud", "mud-streaked=mud",
        "blood-spattered=blood", "scarred=scar", "bruises=bruise", "black eyes=black eye", "bandages=bandage",
    ),
    Category.VEHICLES: (
        "car", "truck", "van", "bus", "taxi", "cab", "motorcycle", "motorbike", "bicycle", "bike", "police car",
        "cruiser", "squad car", "ambulance", "fire truck", "fire engine", "helicopter", "boat", "yacht", "ship",
        "train", "plane", "airplane", "jet", "jeep", "sedan", "suv", "limo", "limousine", "tractor", "scooter",
        "pickup", "pickup truck", "convertible", "hearse", "tank", "canoe", "kayak", "subway", "tram", "carriage",
        "horse-drawn carriage", "wagon", "station wagon", "forklift", "golf cart", "trawler", "fishing boat",
        "lifeboat", "dinghy", "speedboat", "ferry", "minivan", "hatchback", "lorry", "semi", "rv", "camper van",
        "motorhome", "stagecoach", "cart", "buggy", "porsche", "ferrari", "lamborghini", "maserati", "bentley",
        "rolls-royce", "rolls royce=rolls-royce", "mercedes", "bmw", "audi", "volkswagen", "vw", "toyota", "honda",
        "ford", "chevy", "chevrolet", "cadillac", "lincoln", "buick", "dodge", "chrysler", "jaguar", "volvo", "saab",
        "tesla", "prius", "mustang", "camaro", "corvette", "land rover", "range rover", "mini cooper", "beetle",
        "fiat", "peugeot", "renault", "citroen", "lada", "subaru", "nissan", "mazda", "hyundai", "kia", "harley",
        "harley-davidson=harley", "ducati", "vespa", "humvee", "aston martin", "delorean", "alfa romeo", "alfa",
        "skoda", "opel", "bugatti", "mclaren", "combine harvester", "combine", "harvester", "quad bike", "quad",
        "trailer", "horsebox", "digger", "bulldozer", "excavator", "dump truck", "cement truck", "tanker",
        "fuel tanker", "articulated lorry", "18-wheeler", "big rig", "tow truck", "recovery truck", "garbage truck",
        "bin lorry", "ice cream van", "food truck", "camper", "caravan", "double-decker", "double-decker bus",
        "coach", "minibus", "school bus", "tuk-tuk", "rickshaw", "moped", "dirt bike", "quad bikes=quad bike",
        "snowmobile", "jet ski", "jetski", "hovercraft", "barge", "narrowboat", "tugboat", "tug", "cargo ship",
        "container ship", "freighter", "tanker ship", "warship", "submarine", "destroyer", "aircraft carrier",
        "sailing boat", "sailboat", "rowing boat", "rowboat", "fishing trawler", "raft", "gondola", "seaplane",
        "glider", "hot air balloon", "airship", "blimp", "biplane", "fighter jet", "bomber", "drone", "chopper",
        "police helicopter", "air ambulance", "fire engines=fire engine", "police van", "riot van", "armoured car",
        "armored car", "armoured truck", "armored truck", "prison van", "paddy wagon", "hearse!",
        "stagecoaches=stagecoach", "chariot", "sleigh", "sled", "toboggan", "tram!", "cable car", "monorail",
        "steam train", "locomotive", "carriage!", "freight train", "handcar", "patrol car", "getaway car", "cop car",
        "sports car", "stretch limo",
    ),
    Category.ANIMALS: (
        "dog", "puppy", "puppies=puppy", "cat", "kitten", "horse", "horse-drawn=horse", "pony", "bird", "crow",
        "raven", "pigeon", "seagull", "gull", "parrot", "rat", "mouse", "mice=mouse", "snakes=snake",
        "a snake=snake", "the snake=snake", "fish", "cow", "chicken", "goat", "sheep", "wolf", "wolves=wolf", "bear",
        "deer", "fox", "rabbit", "hamster", "spider", "bees=bee", "bee", "owl", "hawk", "eagle", "donkey", "mule",
        "pig", "duck", "goose", "geese=goose", "lizard", "frog", "insects", "cattle", "livestock", "terrier",
        "spaniel", "labrador", "poodle", "chihuahua", "retriever", "bulldog", "collie", "beagle", "pug", "dachshund",
        "hound", "peacock", "swan", "cockroach", "butterfly", "moth", "mosquito", "lamb", "calf", "bull", "stallion",
        "mare", "foal", "camel", "monkey", "gorilla", "tiger", "lion", "elephant", "shark", "dolphin",
        "crab", "lobster", "turtle", "horse-drawn carriage=horse", "horse and cart=horse", "on horseback=horse",
        "tortoise", "squirrel", "hedgehog", "bat!", "unicorn", "dinosaur", "doberman", "rottweiler",
        "german shepherd", "husky", "greyhound", "dalmatian", "corgi", "goldfish", "budgie", "canary", "vulture",
        "buzzard", "coyote", "sheepdog", "sheepdogs=sheepdog", "hare", "hares=hare", "badger", "otter", "beaver",
        "weasel", "stoat", "ferret", "raccoon", "skunk", "possum", "opossum", "bison", "buffalo", "moose", "elk",
        "reindeer", "stag", "doe", "fawn", "boar", "ewe", "lambs=lamb", "piglet", "piglets=piglet", "hen",
        "hens=hen", "rooster", "cockerel", "turkey", "ducks=duck", "ducklings", "swans=swan", "heron", "stork",
        "flamingo", "pelican", "penguin", "puffin", "albatross", "magpie", "sparrow", "blackbird", "thrush",
        "woodpecker", "kingfisher", "falcon", "kestrel", "vulture!", "condor", "bat!", "moths=moth", "wasp",
        "wasps=wasp", "hornet", "ants", "ant", "beetle!", "ladybird", "caterpillar", "worm", "worms=worm", "slug",
        "snail", "scorpion", "tarantula", "centipede", "leech", "jellyfish", "octopus", "squid", "eel", "trout",
        "salmon", "carp", "piranha", "sea lion", "walrus", "polar bear", "grizzly", "panda", "koala", "kangaroo",
        "zebra", "giraffe", "hippo", "rhino", "cheetah", "leopard", "panther", "hyena", "jackal", "wildebeest",
        "gazelle", "antelope", "baboon", "chimpanzee", "chimp", "orangutan", "lemur", "parakeet", "cockatoo",
        "macaw", "crocodile", "alligator", "iguana", "gecko", "chameleon", "python", "cobra", "rattlesnake", "viper",
        "toad", "newt", "tadpoles", "guinea pig", "gerbil", "mice!", "rats=rat", "pigeons=pigeon", "crows=crow",
        "ravens=raven",
    ),
    Category.SET_DRESSING: (
        "sofa", "couch", "table", "kitchen table", "desk", "chair", "rocking chair", "armchair", "bed", "lamp",
        "painting", "poster", "curtains", "drapes", "bookshelf", "bookshelves=bookshelf", "bookcase", "rug",
        "carpet", "mirror", "fireplace", "tv", "television", "clock", "counter", "shelves", "shelf", "plants",
        "tomato plants", "vase", "cabinet", "dresser", "wardrobe", "crib", "bunk bed", "bar stool", "stool", "bench",
        "workbench", "chandelier", "blinds", "filing cabinet", "whiteboard", "blackboard", "fridge", "refrigerator",
        "stove", "oven", "sink", "bathtub", "toilet", "piano", "jukebox", "neon sign", "street sign", "road sign",
        "exit sign", "framed photo", "trophy", "trophies=trophy", "christmas tree", "decorations", "banner",
        "balloons", "monitor", "monitors=monitor", "computer", "computers=computer", "hospital bed", "gurney",
        "altar", "pews", "screen door", "barbecue", "grill", "crate", "crates=crate", "printer", "intercom",
        "photocopier", "fax machine", "console", "consoles=console", "control panel", "charts", "lockers", "locker",
        "vending machine", "pool table", "bunk", "hammock", "fairy lights", "dance floor", "flower arch", "arch",
        "cryo pods=cryo pod", "cryo pod", "pods=cryo pod", "bulkhead", "fire escape", "fire exit", "fire hydrant",
        "hydrant", "mailbox", "lamppost", "streetlight", "bus stop", "phone booth", "payphone", "bar counter",
        "cash register", "till", "shop window", "display case", "coffin", "casket", "gravestone", "headstone",
        "picnic table", "deckchair", "deck chair", "sun lounger", "parasol", "water tower", "windmill", "scarecrow",
        "haystack", "woodpile", "well", "trough", "hitching post", "skylight", "french windows", "hedges", "hedge",
        "fountain", "boulder", "crash cart", "pot plant", "fluorescent lights", "traffic light",
        "floor panels=floor panel", "floor panel", "drain grill", "lantern", "lanterns=lantern", "pillow",
        "pillows=pillow", "bedside table", "nightstand", "wallpaper", "rolltop desk", "wanted poster", "oil lamp",
        "bunting", "flags", "tent", "barrels", "barrel", "handrail", "banister", "shopfront",
        "storefront", "cot", "camp bed", "camp beds=camp bed", "noticeboard", "notice board", "bulletin board",
        "porch swing", "hammock!", "deckchairs=deckchair", "sunbed", "parasols=parasol", "shutters", "window seat",
        "topiary", "statue", "statues", "sculpture", "urn", "candelabra", "candlesticks=candlestick",
        "chandeliers=chandelier", "tapestry", "rug!", "throne", "four-poster bed", "four-poster", "wardrobe!",
        "chest of drawers", "trunk", "sea chest", "grandfather clock", "mantelpiece", "mantel", "hearth", "stove!",
        "aga", "range cooker", "dishwasher", "washing machine", "tumble dryer", "microwave", "toaster", "blender",
        "kettle!", "larder", "pantry shelves", "dresser!", "dining table", "coffee table", "side table",
        "bedside lamp", "floor lamp", "standard lamp", "reading lamp", "desk lamp", "ceiling fan", "radiator",
        "air conditioner", "heater", "space heater", "fireplace!", "woodstove", "bunk beds=bunk bed", "sleeping bag",
        "camp stove", "picnic blanket", "beach towel", "lifeguard tower", "bench!", "park bench", "bus shelter",
        "ticket machine", "turnstile", "escalator", "conveyor belt", "checkout", "shelving", "racks", "clothes rack",
        "mannequin", "mannequins", "jukebox!", "pinball machine", "arcade machine", "slot machine", "roulette table",
        "card table", "poker table", "snooker table", "dartboard", "bar stools=bar stool", "beer taps", "optics",
        "till!", "operating table", "examination table", "x-ray", "lightbox", "drip stand", "iv stand", "ventilator",
        "heart monitor", "hospital beds=hospital bed", "incubator", "wheelchair!", "lockers!", "cubicle", "cubicles",
        "water cooler", "photocopier!", "shredder", "vault door", "cell bars", "bunk!", "prison bars", "gallows",
        "pillory", "cross", "crucifix", "pews!", "pulpit", "lectern", "podium", "microphone stand!", "spotlight",
        "spotlights", "footlights", "scoreboard", "goalposts", "boxing ring", "punchbag", "punching bag", "weights",
        "treadmill", "exercise bike", "climbing wall", "trampoline", "seesaw", "sandpit", "paddling pool",
        "swimming pool", "hot tub", "jacuzzi", "bird bath", "birdhouse", "kennel", "dog bed", "litter tray",
        "cat flap", "hutch", "chicken coop", "hay bales", "bales", "feed trough", "fence post", "gate", "stile",
        "signpost", "milestone", "bollard", "traffic cone", "traffic cones", "barrier", "barricade", "sandbags",
        "barbed wire", "watchtower", "searchlight", "flagpole", "phone box", "postbox", "bin", "bins", "dumpster",
        "scaffolding", "ladder", "crane!", "cement mixer", "rocking horse", "dust sheets", "high chair", "highchair",
        "curtain", "backdrop", "flats", "bulbs", "portrait", "portraits=portrait", "jukebox plays=jukebox",
        "punchbag!", "heavy bag", "heavy bags=heavy bag", "neon sign", "neon!", "neon signs=neon sign", "panel", "candlelight=candles", "candlelit=candles",
        "firelight=fireplace",
        "control panel", "wall panel", "floor panel", "pipes!", "pipework", "exposed pipes=pipes", "ducting",
    ),
    Category.SPECIAL_EFFECTS: (
        "rain", "raining=rain", "rains=rain", "rainstorm=rain", "downpour=rain", "drizzle=rain", "drizzles=rain",
        "storm", "smoke", "smoky=smoke", "smoke-filled=smoke", "black smoke=smoke", "fire!", "flames",
        "burning=fire", "burns=fire", "on fire=fire", "blaze", "explosion", "explodes=explosion", "fog", "mist",
        "snow", "snowing=snow", "snows=snow", "wind", "sparks", "steam", "squib", "squibs=squib", "breakaway",
        "gunshot=gunfire", "gunshots=gunfire", "lightning", "flood", "water gushes", "bullet hits", "debris",
        "embers", "dust cloud", "shatters", "shatter", "shattered", "gunfire", "opens fire=gunfire",
        "open fire=gunfire", "muzzle flash", "muzzle flashes=muzzle flash", "fireworks", "frost", "ice", "waves",
        "swell", "spray", "dripping", "emergency lights", "flicker", "flickers=flicker", "flickering=flicker",
        "hail", "sleet", "dust", "sandstorm", "blizzard", "steam vents=steam", "smoke machine", "pyro",
        "flare bursts=flare", "wet-down", "cobwebs", "tumbleweed", "bullets chew=bullet hits",
        "bullets rip=bullet hits", "bullets tear=bullet hits", "bullets hit=bullet hits",
        "bullets spray=bullet hits", "bullets ricochet=bullet hits", "bullets thud=bullet hits", "camera flashes",
        "flashbulbs", "flash bulbs", "bullet holes=bullet hits", "water spout", "sprinklers", "mud", "muddy=mud",
        "puddles", "puddle", "shudder", "shudders=shudder", "tremor", "earthquake", "quake",
        "plaster rains=falling plaster", "falling plaster", "glass sprays=breakaway", "breaking glass=breakaway",
        "shattering=shatter", "flames=fire", "inferno", "bonfire", "torchlight", "wildfire", "ashes", "soot!",
        "cinders", "steam rises=steam", "haze", "smog", "frost!", "icicles", "snowfall", "snowflakes", "blizzard!",
        "hailstorm", "thunderstorm", "gale", "gust", "gusts", "whirlwind", "tornado", "waterfall", "splash",
        "splashes=splash", "spray!", "geyser", "flooding=flood", "floodwater", "leak", "burst pipe", "burst main",
        "water main", "sparks fly=sparks", "short circuit", "electrical fire", "blackout", "lights flicker=flicker",
        "power cut", "strobe", "strobe lights", "smoke bomb", "tear gas", "flashbang", "firecrackers", "sparklers",
        "confetti", "snow machine", "rain machine", "wind machine", "bubble machine", "flame", "fumes",
        "exhaust fumes=fumes", "diesel fumes=fumes", "petrol fumes=fumes", "condensation", "foam", "fire foam=foam",
        "breath fogs=breath", "breath mists=breath", "breath plumes=breath", "breath clouds=breath",
        "breath steams=breath", "steamy=steam",
        "campfire", "camp fire=campfire", "jet of water=water jet", "jet of seawater=water jet",
        "jet of steam=steam", "water pours=water", "water pours in=water", "water sprays=water", "water floods=flood",
        "water rushes in=water", "dust motes", "cloud of dust=dust cloud", "cloud of smoke=smoke",
        "plume of smoke=smoke", "billowing smoke=smoke", "smoke billows=smoke", "sprays of water=spray",
    ),
    Category.VISUAL_EFFECTS: (
        "set extension", "de-age", "de-aged=de-age", "de-aging=de-age", "deaged=de-age", "cgi", "cg",
        "digital double", "digital effects", "green screen", "greenscreen", "blue screen", "bluescreen", "collapse",
        "collapses=collapse", "collapsing=collapse", "hologram", "holographic", "morph", "morphs=morph",
        "disintegrates", "vfx", "teleports", "teleport", "materialises", "materializes", "materialize=materializes",
        "vanishes into thin air", "vanishes", "portal", "force field", "crowd replication", "screen insert",
        "spaceship", "dragon", "monster", "ghostly", "title card", "super=title card", "chyron=title card",
        "caption=title card", "creature", "dissolves", "glow", "glows=glow", "glowing=glow", "crosshairs", "energy",
        "laser", "ghost", "phantom", "levitates", "floats in mid-air", "alien", "robot", "spacecraft", "starship",
        "laser grid", "laser beams=laser", "lightning bolt", "storm clouds", "black clouds", "full moon",
        "harvest moon", "starfield", "spaceships=spaceship", "ufo", "flying saucer", "tractor beam",
        "force-field=force field", "wormhole", "time machine", "transformation", "shapeshifts", "invisibility",
        "x-ray vision", "superpowers", "telekinesis", "fireball", "lightsaber", "energy blast",
        "explodes into=explosion", "disintegrate", "evaporates", "dissolve", "dissolves into", "zombie", "zombies",
        "vampire", "werewolf", "kaiju", "mech", "cyborg", "android", "hologram!", "holograms=hologram",
        "digital map", "hud", "heads-up display", "on-screen text", "subtitles", "split screen", "freeze frame",
        "time-lapse", "matte painting", "crowd simulation", "cgi crowd", "warp", "time freezes", "slow motion",
        "breaks apart", "shooting star", "shooting stars=shooting star", "heat shimmer", "heat haze",
        "starry sky=stars", "night sky full of stars=stars", "sky full of stars=stars", "sky thick with stars=stars",
        "northern lights", "aurora", "milky way", "stars", "stars!", "avalanche", "whale", "humpback whale",
        "blue whale", "killer whale", "orca", "tidal wave", "tsunami", "meteor", "meteorite", "comet",
    ),
    # Most stunts are actions done to someone or something: tagger.py reads those from the verb and
    # what it is done to ("SLAMS Ray against the wall"); these are the words that always are one.
    Category.STUNTS: (
        "stunt", "stunts=stunt", "stunt double", "stuntman", "stuntwoman", "wire work", "wirework=wire work",
        "fight scene=fight", "fistfight=fight", "fist fight=fight", "gunfight=fight", "sword fight=fight",
        "shootout=fight", "bar fight=fight", "car crash=crash", "pile-up=crash", "near miss",
    ),
    Category.SOUND: (
        "gunshot", "gunshots=gunshot", "bang", "thunder", "siren", "sirens", "phone rings", "ringing", "knock",
        "knocking=knock", "alarm", "alarm blares=alarm", "alarm sounds=alarm", "alarm goes off=alarm", "scream",
        "footsteps", "doorbell", "doorbell rings=doorbell", "whistle", "barking=bark", "bark", "barks=bark",
        "crackle", "crackles", "static", "beep", "beeping", "thud", "rumble", "echo", "echoes", "howl",
        "howling=howl", "buzz", "buzzing", "hum", "clatter", "crash sound", "car horn", "horn honks",
        "tires screech", "screech", "radio chatter", "creaks=creak", "creak", "creaking=creak", "snores=snore",
        "snoring=snore", "skittering", "shriek", "shrieks=shriek", "whirs=whir", "whirring=whir",
        "grinds open=grind", "gunfire", "ticking", "ticks=ticking", "chimes=chime", "bells ring", "church bells",
        "explosion o.s.", "thunderclap", "rattles=rattle", "rattle", "clang", "clanks", "meows=meow", "neighs=neigh",
        "whinnies=whinny", "whinnying=whinny", "moos=moo", "chirping=chirp", "chirps=chirp", "chirp", "birdsong",
        "dial tone", "voicemail beep", "hoots=hoot", "hooting=hoot", "pings=ping", "ping", "vibrates=buzz",
        "buzzes=buzz", "phone buzzes=buzz", "phone vibrates=buzz", "crickets", "hisses=hiss", "hissing=hiss",
        "kettle whistles=whistle", "kettle whistle", "engine roars=engine", "engine revs=engine",
        "engine sputters=engine", "engine dies=engine", "revving=engine", "roar of the engine", "car alarm",
        "car alarms=car alarm", "alarms wail=alarm", "fire alarm", "burglar alarm", "smoke alarm",
        "megaphone crackles=megaphone", "tannoy", "announcement", "church bell", "bells toll", "gong", "foghorn",
        "train whistle", "ship's horn", "air raid siren", "klaxon", "doorbell!", "bell rings=bell", "clock chimes",
        "clock ticks", "tick-tock", "dripping tap", "water drips", "wind howls=wind", "howling wind=wind",
        "thunder rumbles=thunder", "rumbling=rumble", "distant thunder=thunder", "blast", "crunch",
        "creaking floorboards=creak", "floorboards creak=creak", "door creaks=creak", "knocks at the door=knock",
        "knock at the door=knock", "knocking at the door=knock", "gunshot rings out=gunshot",
        "shot rings out=gunshot", "shots ring out=gunshot", "gunshots ring out=gunshot", "rapid fire",
        "machine gun fire", "sonic boom", "screeching tyres=screech", "tyres screech=screech",
        "brakes screech=screech", "horn blares=horn", "horn honks=horn", "honking=horn", "beeps=beep", "bleeps=beep",
        "ringtone", "phone ringing", "mobile rings", "static crackles=static", "radio crackles=static",
        "white noise", "heartbeat", "heart monitor beeps=beep", "flatline", "sobbing", "laughter o.s.", "applause",
        "cheering", "cheers", "booing", "jeers", "whistling", "roar", "whine", "thump", "hiss", "clank", "drone",
        "whoosh", "boom", "squeal", "squeak", "sizzle", "clink",
    ),
    Category.MUSIC: (
        "music", "song", "sings=sing", "singing=sing", "sing", "band", "orchestra", "radio plays", "jukebox plays",
        "melody", "tune", "hums a tune", "choir", "anthem", "lullaby", "concert", "playlist", "guitar", "violin",
        "drums", "saxophone", "soundtrack", "record player", "vinyl", "string quartet", "quartet", "disco",
        "bhangra", "waltz", "tango", "jazz", "rock music", "hymn", "carol", "plays the piano=piano",
        "plays piano=piano", "piano music", "beatbox", "orchestra plays=orchestra", "band plays=band",
        "string quartet plays=string quartet", "brass band", "jazz band!", "rock band", "marching band", "folk song",
        "ballad", "aria", "opera", "symphony", "sonata", "minuet", "polka", "jig", "salsa", "flamenco", "hip-hop",
        "techno", "dance music", "background music", "elevator music", "muzak", "radio music", "music box",
        "wind chimes", "humming=hum", "whistles a tune=tune", "sings along=sing", "serenade", "lullaby!",
        "national anthem=anthem", "drum roll", "bugle", "trumpet call", "fanfare", "beatboxing=beatbox", "rap",
        "karaoke", "bagpipes", "fiddle", "banjo", "harmonica", "accordion",
    ),
}

# Makes and models: a scene with one of these and a plain "car" has one car.
CAR_MAKES = frozenset("""porsche ferrari lamborghini maserati bentley rolls-royce mercedes bmw audi volkswagen vw toyota
honda ford chevy chevrolet cadillac lincoln buick dodge chrysler jaguar volvo saab tesla prius mustang camaro
corvette land rover range rover mini cooper beetle fiat peugeot renault citroen lada subaru nissan mazda hyundai
kia jeep sedan convertible hatchback station wagon limo limousine suv minivan getaway car sports car police car
patrol car cop car squad car cruiser taxi cab pickup pickup truck hearse aston martin delorean humvee""".split())
GENERIC_VEHICLES = frozenset({"car", "vehicle", "wagon"})
# Animal words that name a pet: "a terrier called BISCUIT" makes "Biscuit" the dog in every scene.
PET_WORDS = ("dog", "puppy", "cat", "kitten", "horse", "pony", "terrier", "spaniel", "labrador", "poodle",
             "chihuahua", "retriever", "bulldog", "collie", "beagle", "pug", "dachshund", "hound", "parrot", "rabbit",
             "hamster", "mare", "stallion", "goat", "pig", "donkey", "mule", "cow", "goldfish")
MUSICAL_GROUPS = frozenset({"band", "choir", "quartet", "orchestra", "trio", "ensemble", "quintet"})

# Terms that are nouns even in the verb-led categories: a verb reading of the word ("smokes a
# cigarette", "storms out", "screams", "the door bangs open") is not the element.
NOUN_ONLY = frozenset({
    "smoke", "fire", "storm", "wind", "steam", "mist", "fog", "sparks", "debris", "flood", "spray", "bang", "scream",
    "alarm", "static", "knock", "crunch", "echo", "hum", "buzz", "whistle", "rumble", "howl", "band", "song",
    "music", "drums", "guitar", "violin", "tune", "concert", "choir", "jazz", "portal", "monster", "dragon",
    "hologram", "creature", "ghost", "robot", "alien", "beam", "laser", "energy", "glow", "chase", "fight", "punch",
    "kick", "struggle", "brawl", "crash", "tackle", "ice", "frost", "waves", "swell", "dust", "flare", "flicker",
    "wail", "rattle", "creak", "roar", "whine", "thump", "hiss", "clank", "drone", "whoosh", "boom", "squeal",
    "squeak", "sizzle", "clink", "blast", "thunder",
})
# Categories whose words are things: a verb reading ("Ray ducks", "she files the report") drops them.
NOUN_CATEGORIES = frozenset({Category.EXTRAS, Category.PROPS, Category.WARDROBE, Category.MAKEUP_HAIR,
                             Category.VEHICLES, Category.ANIMALS, Category.SET_DRESSING})

# Words that name people: a capitalised "A HAIRDRESSER" or "the CHAUFFEUR" in action is a part to
# cast; the plural ("Two BOYS") is extras.
PERSON_NOUNS = frozenset("""
man woman boy girl kid child baby teen teenager guy lady gentleman stranger figure person
officer cop detective sergeant lieutenant captain inspector constable sheriff deputy marshal agent
player worker rider dealer gambler hunter ranger trucker cowboy cowhand gunman rancher miner
pianist cyclist tourist florist dentist therapist psychiatrist paramedic fisherwoman policeman policewoman
mistress master stagehand promoter champion trainer understudy actor actress director producer
guard soldier sniper gunman thug gangster henchman bodyguard bouncer driver chauffeur pilot
nurse doctor surgeon paramedic medic orderly receptionist secretary assistant clerk cashier
waiter waitress bartender barman barmaid chef cook butler maid servant housekeeper janitor
teacher professor student principal headmaster coach priest vicar celebrant minister rabbi imam
monk nun judge lawyer attorney juror bailiff reporter journalist photographer cameraman
hairdresser barber stylist manicurist tailor shopkeeper vendor salesman saleswoman
farmer fisherman sailor captain engineer mechanic technician scientist operator dispatcher
announcer host hostess dj singer dancer musician drummer guitarist pianist fiddler
mother father mom mum dad grandmother grandfather grandma grandpa granny aunt uncle cousin
brother sister son daughter wife husband bride groom fiancé fiancée widow widower neighbour neighbor
friend boss manager owner landlord landlady tenant prisoner inmate convict patient victim suspect
witness hostage intruder burglar thief robber mugger hitman assassin killer villain hero artist
""".split())
GROUP_NOUNS = frozenset("band gang crew squad team choir quartet orchestra crowd mob family platoon "
                        "unit posse club troupe army militia cult congregation".split())
# Dialogue cues that are devices, not people: their lines are sound (playback, post), not cast.
MACHINE_CUES = frozenset({
    "megaphone", "bullhorn", "loudhailer", "tannoy", "walkie", "headset", "earpiece", "baby monitor", "doorbell",
    "printer", "intercom", "radio", "tv", "television", "computer", "ship computer", "pa", "p.a.", "pa system",
    "public address", "loudspeaker", "speaker", "speakerphone", "tannoy", "gps", "satnav", "sat nav", "phone",
    "telephone", "cellphone", "answering machine", "message machine", "voicemail", "recording", "tape",
    "tape recorder", "dictaphone", "walkie-talkie", "walkie", "scanner", "police radio", "car radio", "alarm",
    "machine", "automated voice", "recorded voice", "computer voice", "robotic voice", "elevator", "lift", "jukebox",
    "kiosk", "atm", "radio voice", "tv announcer", "news broadcast", "laptop", "tablet", "smart speaker", "app",
    "phone app", "navigation", "dashboard", "answerphone",
})
# Cues that are directions, not people ("INSERT - THE LETTER", "SUPER:", "MARY'S POV").
DIRECTION_WORDS = ("INSERT", "POV", "ANGLE", "CLOSE ON", "CLOSE UP", "CLOSE-UP", "WIDE", "BACK TO", "INTERCUT",
                   "FLASHBACK", "MONTAGE", "SERIES OF", "SUPER", "TITLE", "CHYRON", "CAPTION", "SUBTITLE",
                   "ON SCREEN", "ON THE SCREEN", "MOMENTS LATER", "LATER", "CONTINUOUS", "THE END", "FADE", "CUT TO",
                   "DISSOLVE", "SMASH CUT", "MATCH CUT", "END OF", "OVER BLACK", "BLACK", "TEXT", "SIGN", "NOTE",
                   "CARD", "CREDITS", "TIME CUT", "SPLIT SCREEN")

def _parse_entry(entry: str) -> tuple[str, str, bool]:
    """("variant", "canonical", allow_plural) from "variant=canonical" / "term!"."""
    term, _, canonical = entry.partition("=")
    allow_plural = not term.endswith("!")
    term = term.rstrip("!")
    canonical = (canonical or term).rstrip("!")
    return term.lower(), canonical.lower(), allow_plural


def trie_regex(words: list[str]) -> str:
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


@dataclass(frozen=True)
class Term:
    """What one matched word means: its category, the element's name, and whether a verb reading
    of the word ("Ray ducks", "she smokes") means it is not the element at all."""

    category: Category
    canonical: str
    noun: bool


@lru_cache(maxsize=1)
def compiled() -> tuple[re.Pattern[str], dict[str, tuple[Term, ...]]]:
    """One prefix-factored regex over every term (lower case: callers lower the text, which is
    much faster than re.IGNORECASE), and a map from matched words to elements.

    One scan per paragraph finds every category at once; the map lets one word belong to
    several categories ("jukebox" is set dressing; "explosion" a special effect). Regex
    alternation is greedy, not longest-match, so the trie puts longer continuations first
    by making every shorter ending optional. A term written as its own entry, or its regular
    plural, is checked for a verb reading; a listed variant ("slams=slam") is meant as written.
    """
    lookup: dict[str, list[Term]] = {}
    parsed = [(category, entry, *_parse_entry(entry)) for category, entries in LEXICONS.items()
              for entry in entries]

    def noun(category: Category, canonical: str, entry: str) -> bool:
        variant = "=" in entry
        if category in NOUN_CATEGORIES and category is not Category.MAKEUP_HAIR:
            # a listed plural ("ducks=duck") is checked like the word; an adjective ("horse-drawn") is not
            return not (variant and entry.split("=")[0].endswith(("y", "ed", "ing", "-drawn", "back")))
        return not variant and (category in NOUN_CATEGORIES or canonical in NOUN_ONLY)

    for category, entry, term, canonical, _ in parsed:  # listed words first ...
        targets = lookup.setdefault(term, [])
        if all((t.category, t.canonical) != (category, canonical) for t in targets):
            targets.append(Term(category, canonical, noun(category, canonical, entry)))
    exact = set(lookup)
    for category, entry, term, canonical, allow_plural in parsed:  # ... then plurals nobody listed
        for form in ([term + "s", term + "es"] if allow_plural else []):
            if form in exact:  # "glasses" is eyewear, not two glasses
                continue
            targets = lookup.setdefault(form, [])
            if all((t.category, t.canonical) != (category, canonical) for t in targets):
                targets.append(Term(category, canonical, noun(category, canonical, entry)))
    pattern = re.compile(r"\b" + trie_regex(sorted(lookup)) + r"(?![\w-])")
    return pattern, {k: tuple(v) for k, v in lookup.items()}


@lru_cache(maxsize=1)
def compiled_any_case() -> re.Pattern[str]:
    """The same terms matched case-insensitively, for text whose lower-casing changes its length."""
    return re.compile(compiled()[0].pattern, re.IGNORECASE)


def lookup_match(word: str) -> tuple[Term, ...]:
    """What one regex match means (one Term per category it belongs to)."""
    table = compiled()[1]
    found = table.get(word)  # the matched text is already lower case and single-spaced almost always
    if found is not None:
        return found
    return table.get(" ".join(word.lower().split()), ())


# --------------------------------------------------------------------------- general English nouns

_WORDNET_CATEGORIES: dict[str, Category | None] = {c.value: c for c in Category}
_WORDNET_CATEGORIES["-"] = None  # a compound that is no element ("livery stable")


@lru_cache(maxsize=1)
def wordnet_nouns() -> dict[str, tuple[Category | None, str]]:
    """Nouns no list above names, mapped to the category of their most frequent sense in WordNet
    ("crampon" props, "barometer" props, "sloop" vehicles): word -> (category, lemma).

    Generated into wordnet_nouns.py by scripts/build_wordnet_nouns.py (DR021); parsed on first use.
    """
    listed = compiled()[1]  # a word the lists above name is read by them, in its own category
    table: dict[str, tuple[Category | None, str]] = {}
    for line in TABLE.splitlines():
        word, _, rest = line.partition("\t")
        if not rest or word in listed:
            continue
        category, _, lemma = rest.partition("\t")
        table[word] = (_WORDNET_CATEGORIES[category], lemma or word)
    return table


@lru_cache(maxsize=1)
def wordnet_first_words() -> dict[str, frozenset[str]]:
    """The first words of the two-word nouns in wordnet_nouns(), each with the second words (and
    their plurals) that follow it there: "ice" -> {"axe", "axes", "pack", ...}."""
    seconds: dict[str, set[str]] = {}
    for noun in wordnet_nouns():
        first, _, second = noun.partition(" ")
        if second:
            seconds.setdefault(first, set()).update((second, second + "s", second + "es"))
    return {first: frozenset(words) for first, words in seconds.items()}


@lru_cache(maxsize=32768)
def wordnet_noun(word: str) -> tuple[Category | None, str] | None:
    """(category, lemma) of a lower-case noun or its regular plural, from wordnet_nouns(); the
    category is None for a compound that is no element."""
    table = wordnet_nouns()
    found = table.get(word)
    if found is not None or len(word) < 4 or not word.endswith("s"):
        return found
    if not word.endswith("ss"):
        found = table.get(word[:-1])  # "axes" -> "axe", "pies" -> "pie", "horses" -> "horse"
    if found is None and word.endswith("ies"):
        found = table.get(word[:-3] + "y")  # "bodies"
    if found is None and word.endswith(("ses", "shes", "ches", "xes", "zes")):
        found = table.get(word[:-2])  # "boxes", "buses"
    return found
