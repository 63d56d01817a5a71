"""Write tr_widgets/models/corpus.txt: the tiny model's training text, generated from templates.

The corpus is written for this repository and dedicated to the public domain (CC0 1.0). It is a
deterministic mix of children's-book sentences and three-to-six-sentence stories about animals and
children. Each animal has habits with a clear favourite (the cat sits on the mat more often than
anywhere else, the dog runs to the park), so a model trained on it continues "The cat sat on the"
with "mat" for a reason a reader can check: it is the most frequent continuation in the text. The
stories repeat their characters ("... a sleepy cat . The cat lived in the house ."), which gives
attention heads something to look back at.

Usage:  python scripts/make_corpus.py            (rewrites the file; same bytes every run)
        python scripts/make_corpus.py --check    (exit 1 if the committed file differs)
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tr_widgets" / "models" / "corpus.txt"
SEED = 1234
N_LINES = 4000

HEADER = """\
# tr_widgets tiny-model corpus. Written for the tr_widgets repository by scripts/make_corpus.py
# (deterministic templates, seed 1234). Public domain: CC0 1.0, no rights reserved.
# Lines starting with '#' are comments and are not training text.
"""

# Each animal: how it moves, where it sits (weights), where it goes (weights), food, sound, home.
# The first entry of each weighted table is its clear favourite (>= 3x the runner-up).
ANIMALS = {
    "cat": dict(move="ran", sit={"mat": 9, "rug": 2, "bed": 2, "chair": 1},
                go={"house": 6, "garden": 2, "door": 2}, food=["fish", "milk"], sound="meow", home="house"),
    "dog": dict(move="ran", sit={"rug": 9, "mat": 2, "grass": 2, "step": 1},
                go={"park": 9, "gate": 2, "door": 2}, food=["bones", "meat"], sound="woof", home="house"),
    "bird": dict(move="flew", sit={"branch": 9, "roof": 2, "fence": 2},
                 go={"tree": 9, "nest": 2, "roof": 1}, food=["seeds", "worms"], sound="tweet", home="nest"),
    "duck": dict(move="swam", sit={"log": 6, "grass": 2, "rock": 1},
                 go={"pond": 9, "river": 2}, food=["bread", "bugs"], sound="quack", home="pond"),
    "frog": dict(move="jumped", sit={"log": 9, "rock": 2, "leaf": 2},
                 go={"pond": 9, "river": 2}, food=["bugs", "flies"], sound="ribbit", home="pond"),
    "cow": dict(move="walked", sit={"grass": 9, "hay": 2},
                go={"field": 9, "barn": 3}, food=["grass", "hay"], sound="moo", home="barn"),
    "pig": dict(move="ran", sit={"hay": 9, "grass": 2},
                go={"barn": 6, "farm": 2, "field": 1}, food=["apples", "corn"], sound="oink", home="barn"),
    "hen": dict(move="ran", sit={"nest": 9, "fence": 2, "hay": 1},
                go={"barn": 6, "farm": 2}, food=["corn", "seeds"], sound="cluck", home="barn"),
    "mouse": dict(move="ran", sit={"box": 9, "step": 2, "chair": 1},
                  go={"hole": 9, "house": 2}, food=["cheese", "bread"], sound="squeak", home="hole"),
    "horse": dict(move="ran", sit={"grass": 6, "hay": 3},
                  go={"barn": 6, "field": 3}, food=["hay", "carrots"], sound="neigh", home="barn"),
    "fox": dict(move="ran", sit={"rock": 9, "log": 2},
                go={"woods": 9, "hill": 2}, food=["eggs", "berries"], sound="yip", home="den"),
    "bear": dict(move="walked", sit={"rock": 9, "log": 2},
                 go={"woods": 6, "cave": 3, "river": 1}, food=["honey", "berries"], sound="grr", home="cave"),
}
# cat and dog are the stars of the tutorials: they appear three times as often as the others.
ANIMAL_WEIGHT = {a: (3 if a in ("cat", "dog") else 1) for a in ANIMALS}
NAMES = ["Tom", "Ann", "Sam", "Mia", "Ben", "Lily", "Max", "Zoe"]
THINGS = ["ball", "kite", "hat", "book", "cup", "boat", "drum", "bike"]
COLORS = ["red", "blue", "green", "yellow", "pink", "white"]
ADJS = ["big", "small", "happy", "sleepy", "hungry", "fast", "slow", "soft", "funny", "kind", "little"]
FEEL = ["happy", "sleepy", "hungry", "sad", "tired", "glad"]
PEOPLE_SIT = {"chair": 6, "bed": 2, "bench": 2, "grass": 1}
PEOPLE_GO = {"park": 4, "school": 4, "shop": 2, "farm": 1, "pond": 1}


class Draws:
    """Every random draw of a corpus, from one seeded random.Random so the file is reproducible.
    ``weights``: animal -> how often it is drawn (the corpus's own ANIMAL_WEIGHT)."""

    def __init__(self, seed: int, weights: dict):
        self.r = random.Random(seed)
        self.weights = weights

    def pick(self, table):
        if isinstance(table, dict):
            keys = list(table)
            return self.r.choices(keys, weights=[table[k] for k in keys])[0]
        return self.r.choice(table)

    def animal(self, other_than: str | None = None) -> str:
        keys = [a for a in self.weights if a != other_than]
        return self.r.choices(keys, weights=[self.weights[a] for a in keys])[0]


class Writer(Draws):
    """Template sentences of the English corpus."""

    def __init__(self, seed: int):
        super().__init__(seed, ANIMAL_WEIGHT)

    # single sentences about one animal; `the` is "The" at a sentence start, "the" inside one
    def animal_sentence(self, a: str, the: str = "The", present: bool = True) -> str:
        info = ANIMALS[a]
        kinds, weights = ["sit", "go", "eat", "say", "is"], [4, 4, 2, 2, 2]
        if not present:  # inside a past-tense story: no "is" sentences
            kinds, weights = kinds[:-1], weights[:-1]
        kind = self.r.choices(kinds, weights=weights)[0]
        if kind == "sit":
            return f"{the} {a} sat on the {self.pick(info['sit'])} ."
        if kind == "go":
            return f"{the} {a} {info['move']} to the {self.pick(info['go'])} ."
        if kind == "eat":
            return f"{the} {a} likes {self.pick(info['food'])} ."
        if kind == "say":
            return f"{the} {a} said {info['sound']} ."
        return f"{the} {a} is {self.pick(ADJS)} ."

    def two_animals(self) -> str:
        a, b = self.animal(), None
        b = self.animal(other_than=a)
        kind = self.r.randrange(3)
        if kind == 0:
            return f"The {a} saw a {b} . The {b} said {ANIMALS[b]['sound']} ."
        if kind == 1:
            return f"The {a} and the {b} are friends ."
        where = self.pick(ANIMALS[b]["go"])
        return f"The {a} ran after the {b} . The {b} {ANIMALS[b]['move']} to the {where} ."

    def gift(self) -> str:
        n, m = self.r.sample(NAMES, 2)
        c, t = self.pick(COLORS), self.pick(THINGS)
        end = self.r.choice([f"{m} said thank you .", f"{m} was {self.pick(['happy', 'glad'])} .",
                             f"{m} said thank you to {n} ."])
        return f"{n} has a {c} {t} . {n} gave the {c} {t} to {m} . {end}"

    def people(self) -> str:
        n, m = self.r.sample(NAMES, 2)
        kind = self.r.randrange(4)
        if kind == 0:
            return f"{n} sat on the {self.pick(PEOPLE_SIT)} ."
        if kind == 1:
            return f"{n} and {m} went to the {self.pick(PEOPLE_GO)} ."
        if kind == 2:
            return f"{n} likes the {self.animal()} ."
        return f"{n} is {self.pick(FEEL)} ."

    def story(self) -> str:
        a = self.animal()
        info = ANIMALS[a]
        s = [f"Once upon a time there was a {self.pick(ADJS)} {a} .",
             f"The {a} lived in the {info['home']} ."]
        for _ in range(self.r.randint(1, 3)):
            s.append(self.animal_sentence(a, the=self.r.choice(["The", "One day the", "Then the"]),
                                          present=False))
        s.append(f"The {a} was {self.pick(FEEL)} .")
        return " ".join(s)

    def pet(self) -> str:
        n, a = self.pick(NAMES), self.animal()
        info = ANIMALS[a]
        s = [f"{n} has a pet {a} .", f"The {a} is {self.pick(ADJS)} .",
             f"Every day the {a} sat on the {self.pick(info['sit'])} .",
             f"{n} gave the {a} some {self.pick(info['food'])} ."]
        return " ".join(s)

    def line(self) -> str:
        kind = self.r.choices(["animal", "two", "gift", "people", "story", "pet"],
                              weights=[8, 2, 2, 2, 4, 2])[0]
        if kind == "animal":
            return self.animal_sentence(self.animal())
        return getattr(self, {"two": "two_animals"}.get(kind, kind))()


def detokenize(line: str) -> str:
    """Templates put spaces around '.'; the file stores normal text ("the mat.")."""
    return line.replace(" .", ".")


def make_corpus(seed: int = SEED, n_lines: int = N_LINES) -> str:
    w = Writer(seed)
    return HEADER + "".join(detokenize(w.line()) + "\n" for _ in range(n_lines))


def main(argv=None, make=None, out: Path = OUT, summary=None, doc: str = __doc__) -> int:
    """Write ``make()`` to ``out``, or with --check compare it with the committed file (exit 1 if it
    differs). ``summary(body lines)`` is printed after writing. make_corpus_zh.py calls it too."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare with the committed file, write nothing")
    args = p.parse_args(argv)
    text = (make or make_corpus)()
    if args.check:
        same = out.exists() and out.read_text(encoding="utf-8") == text
        print("corpus up to date" if same else f"{out} differs from the generator output")
        return 0 if same else 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    body = [ln for ln in text.splitlines() if not ln.startswith("#")]
    print(f"wrote {out}: {len(body)} lines, " + (summary or english_summary)(body) + f", {len(text.encode())} bytes")
    return 0


def english_summary(body: list[str]) -> str:
    return f"{sum(ln.count('.') for ln in body)} sentences"


if __name__ == "__main__":
    sys.exit(main())
