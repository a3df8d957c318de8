"""Phrases as admin rules and the cue list write them, and finding them in a text: whole
words, case-insensitive, in order, a word ending in ``*`` a prefix. No regular expression
from a user: a word split (``\\w+``, linear) of a bounded prefix and a lookup per phrase."""

from __future__ import annotations

import re
from collections.abc import Iterable

from labeling.errors import RuleError

# What a phrase is looked for in, per field: the start of a mail says what it is about,
# and a bound keeps a 20 MB body from costing more than a short one.
MAX_TEXT_CHARS = 20_000
MAX_PHRASE_WORDS = 8

_WORD = re.compile(r"\w+")  # one class, one repeat: linear

# Text --------------------------------------------------------------------------------------

Phrase = tuple[tuple[str, bool], ...]  # (word, is a prefix) in order


def parse_phrase(value: str) -> Phrase:
    """A phrase as words, each marked when it ends in ``*`` (a prefix)."""
    words: list[tuple[str, bool]] = []
    for token in value.split():
        prefix = token.endswith("*")
        parts = _WORD.findall(token.casefold())
        for n, part in enumerate(parts):
            words.append((part, prefix and n == len(parts) - 1))
    if not words:
        raise RuleError(f"phrase {value!r} has no words")
    if len(words) > MAX_PHRASE_WORDS:
        raise RuleError(f"phrase {value!r} has more than {MAX_PHRASE_WORDS} words")
    return tuple(words)


class WordIndex:
    """The words of one text (bounded), with where each word occurs."""

    def __init__(self, text: str) -> None:
        self.words = [w.casefold() for w in _WORD.findall(text[:MAX_TEXT_CHARS])]
        self.at: dict[str, list[int]] = {}
        for position, word in enumerate(self.words):
            self.at.setdefault(word, []).append(position)

    def has(self, phrase: Phrase) -> bool:
        first, prefix = phrase[0]
        starts: Iterable[int] = (
            (i for i, w in enumerate(self.words) if w.startswith(first))
            if prefix
            else self.at.get(first, ())
        )
        rest = phrase[1:]
        words = self.words
        for start in starts:
            if start + len(rest) >= len(words):
                continue
            if all(
                words[start + 1 + n].startswith(w) if p else words[start + 1 + n] == w
                for n, (w, p) in enumerate(rest)
            ):
                return True
        return False
