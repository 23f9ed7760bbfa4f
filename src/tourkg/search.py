"""Label search: names and labels in every language, case- and accent-insensitive, ranked.

``panama`` finds "Panamá", ``migracion`` finds "migración". Ranking, best first: the whole label is the
query (*exact*), the label starts with it as whole words (*prefix*: "Panama" for "Panama Canal"),
every word of the query is a whole word of the label (*word*: "Republic of Panama"), every word of the
query starts a word of the label (*word prefix*: "Panamanian"); within a rank, shorter labels first.
One hit per resource, with its best label.

The index is built once with the data (by the engine, from the label properties of every subject that
has a type) and kept with the prepared dataset, so a restart does not build it again. A search is a
few binary searches in sorted arrays and a bounded number of candidates scored in Python: not a
``CONTAINS`` scan per request. The same index, split by the first letters of each word, is what the
static export's in-browser search loads (:meth:`SearchIndex.shards`).
"""

from __future__ import annotations

import bisect
import heapq
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

#: Most characters a search may have; longer ones are refused (400).
MAX_QUERY = 200
#: Most hits returned.
MAX_LIMIT = 100
#: Most candidates scored for one query (a one-letter word prefix may match a large share of the data):
#: past it, the first in alphabetical order of their words (measured: p99 under 20 ms at a million
#: triples, docs/benchmarks.md).
MAX_CANDIDATES = 2000
#: Most sorted keys looked at per prefix when a type filter skips some (bounds a filtered search).
MAX_SCANNED = 50 * MAX_CANDIDATES
EXACT, PREFIX, WORD, WORD_PREFIX = range(4)
RANK_NAMES = ("exact", "prefix", "word", "word prefix")
_NOT_WORD = re.compile(r"[^\w]+")
#: Letters of a word that name its shard at first (a large shard is split by one more letter).
SHARD_LETTERS = 2


def normalize(text: str) -> str:
    """Lower case, no accents, words separated by single spaces (``"Panamá City"`` → ``"panama city"``).

    ASCII text has no accent to take off: skipping the decomposition halves the index's build time on a
    million triples, where most labels are ASCII."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).replace("_", " ").split())


class Entry(NamedTuple):
    """One label of one resource (a named tuple: a million-triple index rebuilds 75,000 of them on each
    start, in a third of the time frozen dataclasses took)."""

    iri: str
    label: str
    lang: str
    types: tuple[str, ...]


@dataclass(frozen=True)
class Hit:
    """A search result: the resource, its best matching label and why it matched."""

    iri: str
    label: str
    lang: str
    types: tuple[str, ...]
    rank: int

    def as_json(self, page: str) -> dict[str, Any]:
        return {"iri": self.iri, "label": self.label, "language": self.lang or None,
                "type": [local_name(t) for t in self.types], "types": list(self.types), "page": page,
                "match": RANK_NAMES[self.rank]}


def local_name(iri: str) -> str:
    """The last segment of an IRI (``https://schema.org/Country`` → ``Country``)."""
    return re.split(r"[/#]", iri.rstrip("/#"))[-1]


class SearchIndex:
    """Sorted normalized labels and sorted words, each pointing at entries."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = sorted(set(entries), key=lambda e: (e.iri, e.lang, e.label))
        labels = [(normalize(e.label), i) for i, e in enumerate(self.entries)]
        labels.sort()
        self.labels = [text for text, _ in labels]
        self.label_ids = [i for _, i in labels]
        # A list sorted in place, then rid of repeats: labels are already in order, so this sort is
        # nearly free, where sorting a set of the pairs took 1.0 s of the 1.3 s build at 1M triples.
        pairs = [(word, i) for text, i in labels for word in text.split()]
        pairs.sort()
        unique = [pair for at, pair in enumerate(pairs) if at == 0 or pair != pairs[at - 1]]
        self.words = [word for word, _ in unique]
        self.word_ids = [i for _, i in unique]
        self.norms = [""] * len(self.entries)
        for text, i in labels:
            self.norms[i] = text
        self._typed: dict[str, frozenset[int]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    # -- searching ---------------------------------------------------------------------------------
    def search(self, query: str, type_: str | None = None, limit: int = 20) -> list[Hit]:
        """The best ``limit`` hits for ``query`` (see the module docstring), optionally only resources
        with a type whose local name or IRI is ``type_`` (case-insensitive)."""
        q = normalize(query)
        if not q:
            return []
        tokens = q.split()
        # The type filter applies while candidates are gathered, not after the cap: otherwise a short
        # prefix (``c&type=country``) would fill the cap with other resources and find none.
        allowed = self._of_type(type_.casefold()) if type_ else None
        candidates = self._label_prefix(q, allowed) | self._word_candidates(tokens, allowed)
        best: dict[str, tuple[int, int, str, str, int]] = {}
        for i in candidates:
            entry = self.entries[i]
            text = self.norms[i]
            rank = self._rank(text, q, tokens)
            if rank is None:
                continue
            key = (rank, len(entry.label), text, entry.iri, i)
            kept = best.get(entry.iri)
            if kept is None or key < kept:
                best[entry.iri] = key
        top = heapq.nsmallest(max(1, min(limit, MAX_LIMIT)), best.values())
        hits = []
        for rank, _, _, _, i in top:
            entry = self.entries[i]
            hits.append(Hit(entry.iri, entry.label, entry.lang, entry.types, rank))
        return hits

    def _of_type(self, wanted: str) -> frozenset[int]:
        """The entries with a type whose IRI or local name is ``wanted`` (casefolded); the last few
        types asked for are kept (one pass over the entries each)."""
        found = self._typed.get(wanted)
        if found is None:
            found = frozenset(i for i, e in enumerate(self.entries)
                              if any(t.casefold() == wanted or local_name(t).casefold() == wanted
                                     for t in e.types))
            if len(self._typed) >= 32:  # a client naming ever new types cannot grow it (threads: any
                self._typed.clear()     # one of them clearing is as good as another)
            self._typed[wanted] = found
        return found

    @staticmethod
    def _prefixed(keys: list[str], ids: list[int], prefix: str, allowed: frozenset[int] | None) -> set[int]:
        """At most :data:`MAX_CANDIDATES` entries (of ``allowed`` ones) under ``prefix`` in ``keys``,
        looking at no more than :data:`MAX_SCANNED` keys: each search stays bounded."""
        at = bisect.bisect_left(keys, prefix)
        end = min(len(keys), at + MAX_SCANNED)
        found: set[int] = set()
        while at < end and len(found) < MAX_CANDIDATES and keys[at].startswith(prefix):
            if allowed is None or ids[at] in allowed:
                found.add(ids[at])
            at += 1
        return found

    def _label_prefix(self, q: str, allowed: frozenset[int] | None = None) -> set[int]:
        return self._prefixed(self.labels, self.label_ids, q, allowed)

    def _word_candidates(self, tokens: list[str], allowed: frozenset[int] | None = None) -> set[int]:
        """Entries in which every token starts a word: from the token with the fewest matches."""
        sets = sorted((self._prefixed(self.words, self.word_ids, t, allowed) for t in set(tokens)), key=len)
        found = sets[0]
        for other in sets[1:]:
            found = found & other
        return found

    @staticmethod
    def _rank(text: str, q: str, tokens: list[str]) -> int | None:
        if text == q:
            return EXACT
        if text.startswith(q + " "):
            return PREFIX
        words = text.split()
        if all(t in words for t in tokens):
            return WORD
        if all(any(w.startswith(t) for w in words) for t in tokens):
            return WORD_PREFIX
        return None

    # -- storing -----------------------------------------------------------------------------------
    def to_json(self) -> list[list[Any]]:
        """The entries, as kept in the prepared folder (the arrays are rebuilt on loading)."""
        return [[e.iri, e.label, e.lang, list(e.types)] for e in self.entries]

    @classmethod
    def from_json(cls, rows: list[list[Any]]) -> SearchIndex:
        return cls(Entry(iri, label, lang, tuple(types)) for iri, label, lang, types in rows)

    def to_arrays(self) -> dict[str, list[Any]]:
        """The built index as plain lists (each set of types once), for the prepared folder: read back
        with :meth:`from_arrays` in 0.3 s at 1M triples, where rebuilding from the entries took 1.2 s,
        so that search answers as soon as the rest after a restart."""
        kinds: dict[tuple[str, ...], int] = {}
        return {"iri": [e.iri for e in self.entries], "label": [e.label for e in self.entries],
                "lang": [e.lang for e in self.entries],
                "type_of": [kinds.setdefault(e.types, len(kinds)) for e in self.entries],
                "kinds": list(kinds), "labels": self.labels, "label_ids": self.label_ids, "words": self.words,
                "word_ids": self.word_ids, "norms": self.norms}

    @classmethod
    def from_arrays(cls, arrays: dict[str, list[Any]]) -> SearchIndex:
        index = cls.__new__(cls)
        kinds = [tuple(kind) for kind in arrays["kinds"]]
        index.entries = [Entry(iri, label, lang, kinds[kind]) for iri, label, lang, kind in
                         zip(arrays["iri"], arrays["label"], arrays["lang"], arrays["type_of"], strict=True)]
        index.labels, index.label_ids = arrays["labels"], arrays["label_ids"]
        index.words, index.word_ids, index.norms = arrays["words"], arrays["word_ids"], arrays["norms"]
        index._typed = {}
        if not len(index.labels) == len(index.label_ids) == len(index.norms) == len(index.entries):
            raise ValueError("inconsistent search index arrays")
        return index

    def shards(self, max_rows: int = 1500, top_rows: int = 300) -> dict[str, tuple[str, list[int]]]:
        """The entries split by the first letters of their words, for the static export's in-browser
        search, so that a query loads one small file: ``{name: (kind, entry ids)}``. A shard is named by
        a word prefix (two letters at least; ``_`` for words not starting with two ASCII letters or
        digits). One with more than ``max_rows`` entries is split by one more letter, and keeps only the
        ``top_rows`` best entries for a query that is exactly its prefix (kind ``top``; else ``full``)."""
        groups: dict[str, list[tuple[str, int]]] = {}
        for word, i in zip(self.words, self.word_ids, strict=True):
            groups.setdefault(word[:SHARD_LETTERS], []).append((word, i))
        found: dict[str, tuple[str, list[int]]] = {}

        def place(prefix: str, pairs: list[tuple[str, int]]) -> None:
            ids = sorted({i for _, i in pairs})
            if len(ids) <= max_rows:
                found[shard_name(prefix)] = ("full", ids)
                return
            best = sorted(ids, key=lambda i: (len(self.entries[i].label), self.norms[i], i))
            found[shard_name(prefix)] = ("top", sorted(best[:top_rows]))
            longer: dict[str, list[tuple[str, int]]] = {}
            for word, i in pairs:
                if len(word) > len(prefix):
                    longer.setdefault(word[:len(prefix) + 1], []).append((word, i))
            for head, subset in longer.items():
                place(head, subset)

        for prefix, pairs in groups.items():
            place(prefix, pairs)
        return found

    def row(self, i: int) -> list[Any]:
        """An entry as the static index's files hold it."""
        entry = self.entries[i]
        return [entry.iri, entry.label, entry.lang, list(entry.types)]


def shard_name(prefix: str) -> str:
    """The file name of the shard of a word prefix: the prefix itself when it is ASCII letters and
    digits, else ``_`` and the hexadecimal code point of each character (``пр`` → ``_43f-440``), so that
    words in any script are split as finely as Latin ones (``search.js`` names them the same way)."""
    if prefix.isascii() and prefix.isalnum():
        return prefix
    return "_" + "-".join(f"{ord(c):x}" for c in prefix)


def _order(hit: Hit) -> tuple[int, int, str, str]:
    return (hit.rank, len(hit.label), normalize(hit.label), hit.iri)
