"""Identifiers: 21-character nanoids, and adjective-animal names for agents."""

from __future__ import annotations

import secrets

# nanoid's URL-safe alphabet: 64 symbols, so one random byte's low 6 bits pick one uniformly.
_ALPHABET = "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict"
_TABLE = bytes(ord(_ALPHABET[byte & 63]) for byte in range(256))
ID_LENGTH = 21


def new_id() -> str:
    """A fresh 21-character nanoid (about 126 random bits).

    It never starts with ``-``, so that it is never taken for an option on a command line.
    """
    value = secrets.token_bytes(ID_LENGTH).translate(_TABLE).decode("ascii")
    while value[0] == "-":
        value = _ALPHABET[secrets.randbelow(64)] + value[1:]
    return value


def new_ids(count: int) -> list[str]:
    """``count`` fresh ids, as :func:`new_id` makes them, from one read of the random source."""
    data = secrets.token_bytes(ID_LENGTH * count).translate(_TABLE).decode("ascii")
    ids = [data[i : i + ID_LENGTH] for i in range(0, len(data), ID_LENGTH)]
    for index, value in enumerate(ids):
        if value[0] == "-":
            ids[index] = new_id()
    return ids


ADJECTIVES = [
    "agile",
    "amber",
    "bold",
    "brave",
    "bright",
    "brisk",
    "calm",
    "clever",
    "cosmic",
    "crisp",
    "curious",
    "daring",
    "deft",
    "eager",
    "fair",
    "fierce",
    "gentle",
    "glad",
    "golden",
    "grand",
    "happy",
    "hardy",
    "honest",
    "humble",
    "jolly",
    "keen",
    "kind",
    "lively",
    "lucid",
    "lucky",
    "merry",
    "mighty",
    "nimble",
    "noble",
    "patient",
    "plucky",
    "polite",
    "proud",
    "quick",
    "quiet",
    "rapid",
    "ready",
    "regal",
    "robust",
    "rustic",
    "sharp",
    "shiny",
    "silent",
    "silver",
    "sleek",
    "smart",
    "snappy",
    "solid",
    "spry",
    "steady",
    "stout",
    "sturdy",
    "sunny",
    "swift",
    "tidy",
    "trusty",
    "valiant",
    "vivid",
    "wise",
    "witty",
    "zesty",
]

ANIMALS = [
    "badger",
    "bat",
    "bear",
    "beaver",
    "bison",
    "boar",
    "bobcat",
    "camel",
    "cheetah",
    "cobra",
    "condor",
    "cougar",
    "coyote",
    "crane",
    "crow",
    "deer",
    "dingo",
    "dolphin",
    "eagle",
    "falcon",
    "ferret",
    "finch",
    "fox",
    "gecko",
    "gibbon",
    "goose",
    "gopher",
    "hawk",
    "heron",
    "hippo",
    "ibex",
    "jackal",
    "jaguar",
    "koala",
    "lemur",
    "leopard",
    "lion",
    "llama",
    "lynx",
    "marmot",
    "mink",
    "moose",
    "newt",
    "ocelot",
    "orca",
    "otter",
    "owl",
    "panda",
    "panther",
    "parrot",
    "pelican",
    "penguin",
    "puma",
    "quail",
    "rabbit",
    "raven",
    "seal",
    "shark",
    "sloth",
    "stork",
    "swan",
    "tapir",
    "tiger",
    "toucan",
    "turtle",
    "viper",
    "walrus",
    "weasel",
    "whale",
    "wolf",
    "yak",
    "zebra",
]


def new_agent_name(attempt: int = 0) -> str:
    """A random adjective-animal name; after a few collisions a number is appended."""
    name = f"{secrets.choice(ADJECTIVES)}-{secrets.choice(ANIMALS)}"
    return name if attempt < 5 else f"{name}-{secrets.randbelow(10_000)}"
