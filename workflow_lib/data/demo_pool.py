"""The embedded demo's instruction pool (seeded, labelled mixed quality) and its held-out split.

A task instance is a `kind` (e.g. "add") with JSON `args`; its gold answer is a bare string, and
a correct response is that bare answer (a verbose one: reasoning, a blank line, the bare answer).
A stable SHA-256 of (kind, args) puts one instance in `HELDOUT_MODULUS` into the held-out
partition, which the pool never draws from, whatever its size or seed. Only `random.Random` with
string seeds namespaced per generator (`_rng`) and ordered containers are used, so the output is
identical on every run and machine, and uncorrelated with other seeded code: with a bare
`Random(0)`, the random baseline's `Random(0).sample(range(n), k)` would draw exactly the slots
this generator gave its near-duplicates.
See docs/demo_pool.md for the quality classes and their proportions.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Args = dict[str, Any]

QUALITY_SHARES = {
    "correct": 0.45,
    "verbose": 0.10,
    "near_duplicate": 0.10,
    "wrong": 0.12,
    "empty": 0.05,
    "truncated": 0.08,
    "unrelated": 0.10,
}
HELDOUT_MODULUS = 5
MIN_POOL_SIZE = 20
_DRAW_TRIES = 100  # draws before a family counts as exhausted (held-out)
_POOL_TRIES = 20  # draws before the pool accepts a repeated instance
WRONG_VERBOSE_SHARE = 0.25

CAPITALS = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid",
    "Portugal": "Lisbon", "Japan": "Tokyo", "China": "Beijing", "India": "New Delhi",
    "Egypt": "Cairo", "Kenya": "Nairobi", "Canada": "Ottawa", "Mexico": "Mexico City",
    "Argentina": "Buenos Aires", "Peru": "Lima", "Chile": "Santiago", "Russia": "Moscow",
    "Poland": "Warsaw", "Greece": "Athens", "Norway": "Oslo", "Sweden": "Stockholm",
    "Finland": "Helsinki", "Denmark": "Copenhagen", "Ireland": "Dublin", "Austria": "Vienna",
    "Hungary": "Budapest", "Belgium": "Brussels", "Thailand": "Bangkok", "Vietnam": "Hanoi",
    "South Korea": "Seoul", "Australia": "Canberra", "New Zealand": "Wellington",
    "Turkey": "Ankara", "Iran": "Tehran", "Iraq": "Baghdad", "Cuba": "Havana",
    "Nigeria": "Abuja", "Ghana": "Accra", "Morocco": "Rabat", "Ethiopia": "Addis Ababa",
    "Philippines": "Manila", "Pakistan": "Islamabad", "Saudi Arabia": "Riyadh",
    "United Kingdom": "London", "Romania": "Bucharest",
}
ELEMENT_SYMBOLS = {
    "hydrogen": "H", "helium": "He", "lithium": "Li", "boron": "B", "carbon": "C",
    "nitrogen": "N", "oxygen": "O", "fluorine": "F", "neon": "Ne", "sodium": "Na",
    "magnesium": "Mg", "silicon": "Si", "phosphorus": "P", "sulfur": "S", "chlorine": "Cl",
    "argon": "Ar", "potassium": "K", "calcium": "Ca", "titanium": "Ti", "chromium": "Cr",
    "manganese": "Mn", "iron": "Fe", "cobalt": "Co", "nickel": "Ni", "copper": "Cu",
    "zinc": "Zn", "krypton": "Kr", "silver": "Ag", "tin": "Sn", "iodine": "I",
    "xenon": "Xe", "barium": "Ba", "tungsten": "W", "platinum": "Pt", "gold": "Au",
    "mercury": "Hg", "lead": "Pb", "radon": "Rn", "uranium": "U", "bromine": "Br",
}
OPPOSITES = {
    "hot": "cold", "big": "small", "up": "down", "fast": "slow", "happy": "sad",
    "early": "late", "full": "empty", "high": "low", "wet": "dry", "thick": "thin",
    "strong": "weak", "rich": "poor", "loud": "quiet", "push": "pull", "buy": "sell",
    "win": "lose", "before": "after", "inside": "outside", "above": "below",
    "always": "never", "true": "false", "left": "right", "north": "south", "east": "west",
    "day": "night", "black": "white", "love": "hate", "first": "last", "accept": "reject",
    "maximum": "minimum", "increase": "decrease", "ancient": "modern", "asleep": "awake",
    "entrance": "exit", "forward": "backward", "question": "answer", "arrive": "depart",
    "visible": "invisible", "possible": "impossible", "remember": "forget",
}
WORDS = (
    "apple", "banana", "cherry", "garden", "window", "pencil", "rocket", "planet", "silver",
    "marble", "basket", "candle", "dragon", "forest", "guitar", "harbor", "island", "jacket",
    "kitten", "lemon", "mirror", "number", "orange", "parrot", "rabbit", "saddle", "tomato",
    "velvet", "wizard", "yellow", "bridge", "castle", "dinner", "engine", "flower", "button",
    "letter", "coffee", "summer", "winter", "mountain", "library", "teacher", "picture",
    "chicken", "blanket", "morning", "whistle", "pattern", "balloon", "compass", "lantern",
    "puzzle", "shadow", "thunder", "village", "cabinet", "diamond", "elephant", "giraffe",
)
UNIT_FACTORS = {
    ("kilometers", "meters"): 1000, ("meters", "centimeters"): 100,
    ("kilograms", "grams"): 1000, ("liters", "milliliters"): 1000,
    ("hours", "minutes"): 60, ("minutes", "seconds"): 60,
    ("days", "hours"): 24, ("weeks", "days"): 7,
}
SYNONYMS = (
    ("What is", "What's"), ("Compute", "Calculate"), ("Find", "Determine"),
    ("Give", "Provide"), ("Which", "What"), ("Convert", "Change"), ("largest", "greatest"),
    ("smallest", "least"), ("Name", "State"), ("Write", "Spell"),
)
_EMPTY_RESPONSES = ("", " ", "\n", "  \n\t ")


@dataclass(frozen=True)
class TaskKind:
    """One task kind: how to draw args, solve them, phrase them and get them wrong."""

    family: str
    sample: Callable[[random.Random], Args]
    solve: Callable[[Args], Any]
    wrongs: Callable[[Args], list[Any]]
    templates: tuple[str, ...]
    explanation: str


def _near(gold: int, *extra: int) -> list[int]:
    return [gold + 1, gold - 1, gold + 2, gold - 2, *extra]


def _pair(lo: int, hi: int) -> Callable[[random.Random], Args]:
    return lambda rng: {"a": rng.randint(lo, hi), "b": rng.randint(lo, hi)}


def _difference(rng: random.Random) -> Args:
    b = rng.randint(2, 49)
    return {"a": rng.randint(b + 1, 99), "b": b}


def _word(rng: random.Random) -> Args:
    return {"word": rng.choice(WORDS)}


def _word_letter(rng: random.Random) -> Args:
    word = rng.choice(WORDS)
    return {"word": word, "letter": rng.choice(sorted(set(word)))}


def _numbers(rng: random.Random) -> Args:
    while True:
        items = rng.sample(range(1, 100), rng.randint(4, 6))
        if items != sorted(items):
            return {"items": items}


def _conversion(rng: random.Random) -> Args:
    (big, small), factor = rng.choice(list(UNIT_FACTORS.items()))
    value = rng.randint(2, 20)
    if rng.random() < 0.5:
        return {"value": value, "src": big, "dst": small}
    return {"value": value * factor, "src": small, "dst": big}


def _convert(a: Args) -> int:
    if (a["src"], a["dst"]) in UNIT_FACTORS:
        return a["value"] * UNIT_FACTORS[a["src"], a["dst"]]
    return a["value"] // UNIT_FACTORS[a["dst"], a["src"]]


def _swap(seq: str | list, i: int) -> str | list:
    return seq[:i] + seq[i + 1 : i + 2] + seq[i : i + 1] + seq[i + 2 :]


def _reversal_wrongs(a: Args) -> list[str]:
    rev = a["word"][::-1]
    return [a["word"], rev[1:], rev[:-1], _swap(rev, 0), _swap(rev, len(rev) // 2)]


def _uppercase_wrongs(a: Args) -> list[str]:
    word, up = a["word"], a["word"].upper()
    return [word, word.capitalize(), up[:-1] + word[-1], word[0] + up[1:]]


def _letter_wrongs(gold: str, word: str) -> list[str]:
    shifted = [chr((ord(gold) - ord("a") + d) % 26 + ord("a")) for d in (1, -1, 2)]
    return [*word, *shifted]


def _sort_wrongs(a: Args) -> list[list[int]]:
    up = sorted(a["items"])
    return [a["items"], up[::-1], _swap(up, 0), _swap(up, len(up) - 2)]


def _table_kind(
    table: dict[str, str], field: str, templates: tuple[str, ...], why: str
) -> TaskKind:
    return TaskKind(
        family="fact",
        sample=lambda rng: {field: rng.choice(list(table))},
        solve=lambda a: table[a[field]],
        wrongs=lambda a: list(table.values()),
        templates=templates,
        explanation=why,
    )


KINDS: dict[str, TaskKind] = {
    "add": TaskKind(
        "arithmetic", _pair(2, 99), lambda a: a["a"] + a["b"],
        lambda a: _near(a["a"] + a["b"], a["a"] * a["b"], abs(a["a"] - a["b"])),
        ("What is {a} + {b}?", "Compute {a} plus {b}.", "Add {a} and {b}.",
         "Find the sum of {a} and {b}."),
        "To add {a} and {b}, line the numbers up by place value. Add the ones digits first and "
        "carry a ten if their total is ten or more, then add the tens digits together with any "
        "carry. Adding {b} to {a} this way gives {answer}.",
    ),
    "sub": TaskKind(
        "arithmetic", _difference, lambda a: a["a"] - a["b"],
        lambda a: _near(a["a"] - a["b"], a["a"] + a["b"]),
        ("What is {a} - {b}?", "Compute {a} minus {b}.", "Subtract {b} from {a}.",
         "Find the difference {a} - {b}."),
        "To subtract {b} from {a}, line the numbers up by place value. Subtract the ones digits "
        "first, borrowing a ten from the tens column if the top digit is smaller, then subtract "
        "the tens. Taking {b} away from {a} leaves {answer}.",
    ),
    "mul": TaskKind(
        "arithmetic", _pair(2, 12), lambda a: a["a"] * a["b"],
        lambda a: _near(a["a"] * a["b"], a["a"] + a["b"], a["a"] * (a["b"] - 1)),
        ("What is {a} * {b}?", "Compute {a} times {b}.", "Multiply {a} by {b}.",
         "Find the product of {a} and {b}."),
        "Multiplying {a} by {b} means adding {a} to itself {b} times. Using the times table for "
        "{a}, count up step by step until there are {b} groups of {a}. The product of {a} and "
        "{b} is {answer}.",
    ),
    "reverse": TaskKind(
        "string", _word, lambda a: a["word"][::-1], _reversal_wrongs,
        ('Reverse the word "{word}".', 'Write "{word}" backwards.',
         'What is "{word}" spelled in reverse?'),
        'To reverse the word "{word}", read its letters from the last one back to the first and '
        "write them down in that order. Every letter is kept; only the order is flipped. "
        'Reading "{word}" backwards gives {answer}.',
    ),
    "upper": TaskKind(
        "string", _word, lambda a: a["word"].upper(), _uppercase_wrongs,
        ('Convert "{word}" to uppercase.', 'Write the word "{word}" in capital letters.',
         'What is "{word}" in all caps?'),
        'To write "{word}" in uppercase, replace each lowercase letter with its capital form and '
        'keep the letters in the same order. No letters are added or removed. In uppercase, '
        '"{word}" becomes {answer}.',
    ),
    "count": TaskKind(
        "string", _word_letter, lambda a: a["word"].count(a["letter"]),
        lambda a: _near(a["word"].count(a["letter"]), 3),
        ('How many times does the letter "{letter}" appear in "{word}"?',
         'Count the occurrences of "{letter}" in the word "{word}".',
         'In the word "{word}", how many "{letter}" letters are there?'),
        'To count the letter "{letter}" in "{word}", go through the word one letter at a time '
        'and add one to a running tally each time the letter is "{letter}". After checking every '
        "letter, the tally is {answer}.",
    ),
    "first": TaskKind(
        "string", _word, lambda a: a["word"][0], lambda a: _letter_wrongs(a["word"][0], a["word"]),
        ('What is the first letter of "{word}"?', 'Give the first character of the word "{word}".',
         'Which letter does "{word}" start with?'),
        "The first letter of a word is the one it begins with, reading from left to right. "
        'Looking at the start of "{word}", the letter in the first position is {answer}.',
    ),
    "last": TaskKind(
        "string", _word, lambda a: a["word"][-1],
        lambda a: _letter_wrongs(a["word"][-1], a["word"]),
        ('What is the last letter of "{word}"?', 'Give the final character of the word "{word}".',
         'Which letter does "{word}" end with?'),
        "The last letter of a word is the one it ends with, reading from left to right. "
        'Looking at the end of "{word}", the letter in the final position is {answer}.',
    ),
    "sort": TaskKind(
        "list", _numbers, lambda a: sorted(a["items"]), _sort_wrongs,
        ("Sort the list {items} in ascending order.", "Arrange {items} from smallest to largest.",
         "Give the numbers {items} in increasing order."),
        "To sort {items} in ascending order, repeatedly take the smallest remaining number and "
        "append it to a new list. Continuing until no numbers are left puts them in order from "
        "smallest to largest: {answer}.",
    ),
    "max": TaskKind(
        "list", _numbers, lambda a: max(a["items"]),
        lambda a: [sorted(a["items"])[-2], min(a["items"]), max(a["items"]) + 1],
        ("What is the largest number in {items}?", "Find the maximum of {items}.",
         "Which number in {items} is the biggest?"),
        "To find the largest number in {items}, keep track of the biggest value seen so far and "
        "compare it with each number in turn, replacing it whenever a number is larger. After "
        "the last comparison the largest number is {answer}.",
    ),
    "min": TaskKind(
        "list", _numbers, lambda a: min(a["items"]),
        lambda a: [sorted(a["items"])[1], max(a["items"]), min(a["items"]) - 1],
        ("What is the smallest number in {items}?", "Find the minimum of {items}.",
         "Which number in {items} is the lowest?"),
        "To find the smallest number in {items}, keep track of the lowest value seen so far and "
        "compare it with each number in turn, replacing it whenever a number is smaller. After "
        "the last comparison the smallest number is {answer}.",
    ),
    "sum": TaskKind(
        "list", _numbers, lambda a: sum(a["items"]),
        lambda a: _near(sum(a["items"]), sum(a["items"][:-1]), sum(a["items"]) + 10),
        ("What is the sum of the numbers in {items}?", "Add up all the numbers in {items}.",
         "Compute the total of {items}."),
        "To add up {items}, keep a running total that starts at zero and add each number to it "
        "in turn. After the last number has been added, the total is {answer}.",
    ),
    "convert": TaskKind(
        "unit", _conversion, _convert,
        lambda a: [a["value"], _convert(a) * 10, _convert(a) + 1, _convert(a) - 1],
        ("How many {dst} are in {value} {src}?", "Convert {value} {src} to {dst}.",
         "{value} {src} is how many {dst}?"),
        "To convert {src} to {dst}, use the fixed factor between the two units: multiply when "
        "going to the smaller unit and divide when going to the larger one. Applying that factor "
        "to {value} {src} gives {answer} {dst}.",
    ),
    "capital": _table_kind(
        CAPITALS, "country",
        ("What is the capital of {country}?", "Name the capital city of {country}.",
         "Which city is the capital of {country}?"),
        "A country's capital is the city where its national government sits. For {country}, "
        "that city is {answer}.",
    ),
    "symbol": _table_kind(
        ELEMENT_SYMBOLS, "element",
        ("What is the chemical symbol for {element}?", "Give the chemical symbol of {element}.",
         "Which symbol stands for the element {element}?"),
        "Every chemical element has a symbol of one or two letters, sometimes taken from its "
        "Latin name. The element {element} is written with the symbol {answer}.",
    ),
    "opposite": _table_kind(
        OPPOSITES, "word",
        ('What is the opposite of "{word}"?', 'Give the antonym of "{word}".',
         'Which word is the opposite of "{word}"?'),
        'An opposite, or antonym, is a word with the reverse meaning. The word "{word}" sits at '
        "one end of a scale, and the word at the other end is {answer}.",
    ),
}
FAMILIES = tuple(dict.fromkeys(k.family for k in KINDS.values()))
_FAMILY_KINDS = {f: [name for name, k in KINDS.items() if k.family == f] for f in FAMILIES}


def solve(kind: str, args: Args) -> str:
    """The bare gold answer of a task instance."""
    return str(KINDS[kind].solve(args))


def wrong_answers(kind: str, args: Args) -> list[str]:
    """Distinct plausible wrong answers of a task instance (at least three), in a fixed order."""
    gold = solve(kind, args)
    wrongs = (str(w) for w in KINDS[kind].wrongs(args) if not (isinstance(w, int) and w < 0))
    return [w for w in dict.fromkeys(wrongs) if w != gold]


def is_heldout(kind: str, args: Args) -> bool:
    """Whether an instance belongs to the held-out partition (a stable hash, not `hash()`)."""
    key = json.dumps([kind, args], sort_keys=True).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % HELDOUT_MODULUS == 0


def _draw(
    rng: random.Random, family: str, heldout: bool, seen: set[str], tries: int = _DRAW_TRIES
) -> tuple[str, Args]:
    """An unseen instance of `family` in the requested partition, which it then marks seen.

    Raises LookupError when `tries` draws found nothing unseen.
    """
    for _ in range(tries):
        kind = rng.choice(_FAMILY_KINDS[family])
        args = KINDS[kind].sample(rng)
        key = json.dumps([kind, args], sort_keys=True)
        if is_heldout(kind, args) == heldout and key not in seen:
            seen.add(key)
            return kind, args
    raise LookupError(f"no unseen {'held-out' if heldout else 'pool'} instance of {family!r}")


def _draw_any(rng: random.Random, family: str, seen: set[str]) -> tuple[str, Args]:
    """A pool instance, preferring unseen ones (small fact tables repeat in large pools)."""
    try:
        return _draw(rng, family, False, seen, _POOL_TRIES)
    except LookupError:
        return _draw(rng, family, False, set())


def _explain(kind: str, args: Args, answer: str) -> str:
    """Step-by-step reasoning text (without the final answer line)."""
    return KINDS[kind].explanation.format(answer=answer, **args)


def _truncate(rng: random.Random, kind: str, args: Args, gold: str) -> tuple[str, str]:
    """A correct response cut mid-way: the bare answer if long, else the explanation."""
    if len(gold) >= 6 and rng.random() < 0.5:
        return gold[: rng.randint(1, len(gold) - 1)].rstrip(), "answer"
    words = _explain(kind, args, gold).split(" ")
    return " ".join(words[: rng.randint(len(words) // 3, 2 * len(words) // 3)]), "explanation"


def _respace(rng: random.Random, text: str) -> str:
    spaces = [i for i, c in enumerate(text) if c == " "]
    if not spaces:
        return text + " "
    i = rng.choice(spaces)
    return text[:i] + "  " + text[i + 1 :]


def _repunctuate(rng: random.Random, text: str) -> str:
    return text[:-1] if text[-1] in ".?!" else text + "."


def _synonym(rng: random.Random, text: str) -> str:
    options = [(old, new) for old, new in SYNONYMS if old in text]
    if not options:
        return text
    old, new = rng.choice(options)
    return text.replace(old, new, 1)


_EDITS = {"whitespace": _respace, "punctuation": _repunctuate, "synonym": _synonym}


def _near_duplicate_question(rng: random.Random, question: str) -> tuple[str, list[str]]:
    """The question with one or two trivial edits; always differs from the original."""
    names = rng.sample(sorted(_EDITS), rng.randint(1, 2))
    edited = question
    for name in names:
        edited = _EDITS[name](rng, edited)
    if edited == question:
        names.append("whitespace")
        edited = _respace(rng, edited)
    return edited, names


def _quality_counts(n: int) -> dict[str, int]:
    """Split n by QUALITY_SHARES with largest remainders (ties in QUALITY_SHARES order)."""
    exact = {q: share * n for q, share in QUALITY_SHARES.items()}
    counts = {q: int(x) for q, x in exact.items()}
    by_remainder = sorted(exact, key=lambda q: counts[q] - exact[q])
    for q in by_remainder[: n - sum(counts.values())]:
        counts[q] += 1
    return counts


def _record(
    rid: str, kind: str, args: Args, question: str, response: str, quality: str, **meta: Any
) -> dict:
    family = KINDS[kind].family
    return {
        "id": rid,
        "conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": response}],
        "source": f"demo/{family}",
        "meta": {"family": family, "quality": quality, "kind": kind, "args": args,
                 "gold": solve(kind, args), **meta},
    }


def _with_answer_line(reasoning: str, answer: str) -> str:
    return f"{reasoning}\n\n{answer}"


def _response(
    rng: random.Random, quality: str, kind: str, args: Args, earlier: list[dict]
) -> tuple[str, dict]:
    """The response of a fresh (non-derived) record of `quality`, and its extra meta."""
    gold = solve(kind, args)
    if quality == "correct":
        return gold, {}
    if quality == "verbose":
        return _with_answer_line(_explain(kind, args, gold), gold), {}
    if quality == "wrong":
        answer = rng.choice(wrong_answers(kind, args))
        if rng.random() < WRONG_VERBOSE_SHARE:
            return _with_answer_line(_explain(kind, args, answer), answer), {"style": "verbose"}
        return answer, {"style": "concise"}
    if quality == "empty":
        return rng.choice(_EMPTY_RESPONSES), {}
    if quality == "truncated":
        text, part = _truncate(rng, kind, args, gold)
        return text, {"truncated_part": part}
    if quality == "unrelated":
        donor = rng.choice([
            r for r in earlier
            if r["meta"]["quality"] in ("correct", "verbose")
            and r["meta"]["family"] != KINDS[kind].family
        ])
        return donor["conversations"][1]["value"], {"response_from": donor["id"]}
    raise ValueError(f"{quality!r} is not a fresh quality")


def _near_duplicate(rng: random.Random, rid: str, source: dict) -> dict:
    """A copy of `source` whose question has trivial edits; same response."""
    question, edits = _near_duplicate_question(rng, source["conversations"][0]["value"])
    meta = source["meta"]
    return _record(rid, meta["kind"], meta["args"], question, source["conversations"][1]["value"],
                   "near_duplicate", template=meta["template"], derived_from=source["id"],
                   edits=edits)


def _rng(purpose: str, seed: int) -> random.Random:
    """A generator seeded by (purpose, seed), independent of any `Random(seed)` elsewhere."""
    return random.Random(f"sieve-demo-{purpose}:{seed}")


def generate_pool(n: int = 1200, seed: int = 0) -> list[dict]:
    """n canonical records of labelled mixed quality (see docs/demo_pool.md), ordered by id."""
    if n < MIN_POOL_SIZE:
        raise ValueError(f"demo pool size must be at least {MIN_POOL_SIZE}, got {n}")
    rng = _rng("pool", seed)
    width = max(5, len(str(n - 1)))
    slots = list(range(n))
    rng.shuffle(slots)
    ids = iter(f"demo-{slot:0{width}d}" for slot in slots)
    counts = _quality_counts(n)
    seen: set[str] = set()
    records: list[dict] = []
    for quality in (q for q in QUALITY_SHARES if q != "near_duplicate"):
        for _ in range(counts[quality]):
            kind, args = _draw_any(rng, FAMILIES[len(records) % len(FAMILIES)], seen)
            template = rng.randrange(len(KINDS[kind].templates))
            question = KINDS[kind].templates[template].format(**args)
            response, meta = _response(rng, quality, kind, args, records)
            records.append(_record(next(ids), kind, args, question, response, quality,
                                   template=template, **meta))
    correct = [r for r in records if r["meta"]["quality"] == "correct"]
    records += [_near_duplicate(rng, next(ids), rng.choice(correct))
                for _ in range(counts["near_duplicate"])]
    return sorted(records, key=lambda r: r["id"])


def generate_heldout(n: int = 200, seed: int = 1) -> list[dict]:
    """n distinct held-out instances, families round-robin (a family whose held-out partition
    runs out leaves the rotation): `{"id", "family", "kind", "args", "question", "answer"}`."""
    rng = _rng("heldout", seed)
    seen: set[str] = set()
    active = list(FAMILIES)
    items: list[dict] = []
    while len(items) < n:
        if not active:
            raise ValueError(f"only {len(items)} distinct held-out instances exist, {n} asked")
        family = active[len(items) % len(active)]
        try:
            kind, args = _draw(rng, family, True, seen)
        except LookupError:
            active.remove(family)
            continue
        items.append({
            "id": f"heldout-{len(items):05d}",
            "family": family,
            "kind": kind,
            "args": args,
            "question": rng.choice(KINDS[kind].templates).format(**args),
            "answer": solve(kind, args),
        })
    return items


def heldout_multiple_choice(items: list[dict], seed: int = 0) -> list[dict]:
    """Four-way multiple choice of held-out items: the gold answer and three wrong answers."""
    rng = _rng("multiple-choice", seed)
    out = []
    for item in items:
        choices = [item["answer"], *rng.sample(wrong_answers(item["kind"], item["args"]), 3)]
        rng.shuffle(choices)
        out.append({"id": item["id"], "family": item["family"], "question": item["question"],
                    "choices": choices, "label": choices.index(item["answer"])})
    return out


def composition(records: list[dict]) -> dict:
    """Counts by family x quality, by family, by quality, and mean response characters by quality.

    Every family and quality of the demo pool is listed (zeros included), in a fixed order.
    """
    counts = {f: dict.fromkeys(QUALITY_SHARES, 0) for f in FAMILIES}
    chars = dict.fromkeys(QUALITY_SHARES, 0)
    for record in records:
        family, quality = record["meta"]["family"], record["meta"]["quality"]
        counts[family][quality] += 1
        chars[quality] += len(record["conversations"][-1]["value"])
    by_quality = {q: sum(counts[f][q] for f in FAMILIES) for q in QUALITY_SHARES}
    return {
        "n": len(records),
        "by_quality": by_quality,
        "by_family": {f: sum(counts[f].values()) for f in FAMILIES},
        "by_family_quality": counts,
        "mean_response_chars": {
            q: round(chars[q] / by_quality[q], 1) if by_quality[q] else 0.0 for q in QUALITY_SHARES
        },
    }


def composition_table(comp: dict) -> str:
    """A Markdown table of `composition()`: families x qualities, totals, mean response chars."""
    header = ["family", *QUALITY_SHARES, "total"]
    rows = [[f, *comp["by_family_quality"][f].values(), comp["by_family"][f]] for f in FAMILIES]
    rows.append(["**total**", *comp["by_quality"].values(), comp["n"]])
    rows.append(["share", *(f"{c / comp['n']:.1%}" for c in comp["by_quality"].values()), ""])
    rows.append(["mean response chars", *comp["mean_response_chars"].values(), ""])
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(map(str, line)) + " |" for line in lines)
