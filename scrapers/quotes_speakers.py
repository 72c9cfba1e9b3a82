"""Find who a quote is attributed to, and who that is.

Two halves. ``mention_*`` functions read the words around one quote and return the mention
the text attributes it to ("he", "Krebs", "a former senior U.S. official", "the
statement"), with the cue and any appositive role. ``Entities`` knows the names mentioned
in the whole document and resolves a mention to one canonical speaker: "Krebs" and "he"
become "Chris Krebs", "the official" becomes the "a current U.S. official" introduced
earlier.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from functools import cache, lru_cache
from typing import NamedTuple

from scrapers.quotes_lexicon import (
    ANONYMOUS_HEADS,
    AUXILIARIES,
    CUE_VERBS,
    DETERMINERS,
    DOCUMENT_HEADS,
    OPENING_CUES,
    ORGANISATION_WORDS,
    OUTLET_ENDINGS,
    OUTLETS,
    PRONOUNS,
    TIME_NAMES,
    TITLES,
)

_WORD = re.compile(r"[\w][\w'’.&-]*|\S")
_CAPITALISED = re.compile(r"[A-Z][\w'’.&-]*")
_NAME_PARTICLES = frozenset(
    ["de", "da", "del", "van", "von", "der", "la", "le", "al", "bin", "ibn", "du", "st.", "of"]
)
# Capitalised words that start sentences and are never part of a name.
_SENTENCE_WORDS = frozenset(
    [
        "but",
        "and",
        "still",
        "however",
        "meanwhile",
        "then",
        "so",
        "yet",
        "now",
        "also",
        "in",
        "on",
        "at",
        "as",
        "when",
        "while",
        "after",
        "before",
        "if",
        "though",
        "although",
        "because",
        "since",
        "later",
        "earlier",
        "instead",
        "indeed",
        "for",
        "with",
        "from",
        "by",
        "during",
        "asked",
        "last",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "it",
        "its",
        "his",
        "her",
        "their",
        "our",
        "we",
        "they",
        "he",
        "she",
        "i",
        "you",
        "the",
        "a",
        "an",
        "one",
        "some",
        "many",
        "most",
        "other",
        "another",
        "both",
        "each",
        "asked,",
        "speaking",
        "writing",
        "even",
        "only",
        "just",
        "like",
        "unlike",
        "despite",
        "among",
        "according",
        "to",
        "was",
    ]
)
_BARRIERS = frozenset(
    [
        "that",
        "which",
        "and",
        "but",
        "or",
        "because",
        "while",
        "when",
        "if",
        "as",
        "than",
        "who",
        "whom",
        "whose",
        "where",
        "after",
        "before",
        "since",
        "though",
        "although",
        "whether",
        "until",
        "unless",
    ]
)
_PREPOSITIONS = frozenset(
    ["of", "for", "at", "with", "in", "on", "from", "to", "by", "about", "over", "under", "near"]
)
_ENDS_DESCRIPTION = _PREPOSITIONS | {"during", "referring", "adding", "noting"}
_HEADS = ANONYMOUS_HEADS | DOCUMENT_HEADS
_POSSESSIVE = re.compile(r"^[A-Za-z][\w.&-]*['’]s?$")
_ABBREVIATED = frozenset(
    [
        "mr.",
        "mrs.",
        "ms.",
        "dr.",
        "sen.",
        "rep.",
        "gov.",
        "jr.",
        "sr.",
        "st.",
        "lt.",
        "gen.",
        "col.",
        "rev.",
    ]
)
_TOKEN = re.compile(r"\S+")
_INDEFINITE = frozenset(
    [
        "a",
        "an",
        "one",
        "two",
        "three",
        "four",
        "several",
        "some",
        "many",
        "another",
        "other",
        "multiple",
        "few",
    ]
)
_UNNAMED = re.compile(r"anonymity|not to be named|not authori[sz]ed|declined to be", re.I)
_PARTY_TAG = re.compile(r"[RDI]-[A-Z][A-Za-z.]*")  # 'R-Wis.' after 'Paul Ryan,'
# a time between a subject and its verb: 'Beck on Wednesday called', 'Trump Tuesday said',
# 'Smith in March said', 'the campaign last week said'; a month alone may be a name's
# ('the Women's March said'), a weekday alone may not
_WEEKDAYS = "|".join(sorted(name for name in TIME_NAMES if name.endswith("day")))
_TIMES = "|".join(sorted(TIME_NAMES))
_TIME = (
    rf"(?:(?:(?:on|last|this|next|early|late|earlier|later)\s+)?(?:{_WEEKDAYS})"
    rf"|(?:in|last|this|next|early|late|earlier|later)\s+(?:{_TIMES})"
    r"|(?:(?:earlier|later)\s+)?(?:last|this|next)\s+(?:week|weekend|month|year)"
    r"|yesterday|today|tonight)(?:\s+(?:morning|afternoon|evening|night))?"
)
# set off by commas ('Obama, on Friday, said') or not ('Marlow, who chairs it, on Friday
# said': the appositive's comma stays to be peeled)
_TRAILING_TIME = re.compile(rf"(?:\s*,\s*{_TIME}\s*,|\s+{_TIME})\s*\Z", re.I)
# How far past its start a noun phrase is read, in characters: room for a name, its titles
# and an appositive role (at most 200 characters more), not the rest of a paragraph-long
# sentence, which would make reading every subject in it quadratic
_MAX_PHRASE_REACH = 400
_MOST_NAME_WORDS = 4  # 'Jorge Antonio Villasenor Llamas'; a longer run is a headline
TITLE_WORDS = frozenset(title.rstrip(".") for title in TITLES)
_ROLE_WORDS = TITLE_WORDS | ANONYMOUS_HEADS  # a title or a role noun: 'Sen.', 'strategist'
_HONORIFIC_GENDER = {"mr": "m", "mrs": "f", "ms": "f", "miss": "f", "sir": "m", "dame": "f"}
_PRONOUN_GENDER = {"he": "m", "she": "f"}
_HONORIFICS = frozenset([*_HONORIFIC_GENDER, "dr", "prof"])
# a cue verb and a he or she right after a name: 'Taylor Morgan said she', ', who says he'
_PRONOUN_AFTER = re.compile(r",?\s+(?:who\s+)?([a-z]+)\s+(?:that\s+)?(he|she)\b")
_HONORIFIC = re.compile(r"\b(Mr|Mrs|Ms|Miss|Sir|Dame)\.?\s+(?:[A-Z][\w.'’-]*\s+)?([A-Z][\w'’-]*)")
_TOLD = frozenset(["told", "tells", "tell", "telling"])
_CUE_TARGET = re.compile(r"\s+((?:the |The )?(?:[A-Z][\w.'’&-]*\s?)+|reporters|us)")
_CUE_OUTLET = re.compile(
    r"\s+(?:in an? \w+ (?:with|to) |on |to )((?:the |The )?(?:[A-Z][\w.'’&-]*\s?)+)"
)


class Mention(NamedTuple):  # tuples, not dataclasses: made for every candidate speaker
    """A span of the text a quote is attributed to, and what kind of phrase it is."""

    start: int
    end: int
    kind: str  # "pronoun", "name" or "description"
    role: str | None = None


class Attribution(NamedTuple):
    mention: Mention
    cue: str
    cue_start: int
    via: str | None


def _words(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]


def _lower(text: str, span: tuple[int, int]) -> str:
    return text[span[0] : span[1]].lower()


def _is_cap(text: str, span: tuple[int, int]) -> bool:
    return bool(_CAPITALISED.fullmatch(text, span[0], span[1]))


@lru_cache(maxsize=1 << 16)  # pure, and asked of the same few names over and over
def is_outlet(name: str) -> bool:
    """Whether a name reads as a news outlet ("POLITICO", "The Washington Post")."""
    low = name.lower().removeprefix("the ").strip()
    last = low.rsplit(" ", 1)[-1]
    return low in OUTLETS or f"the {low}" in OUTLETS or (" " in low and last in OUTLET_ENDINGS)


def _names_a_person(text: str, words: list[tuple[int, int]], last: int) -> bool:
    """Whether the capitalised run ending at words[last] is a person's name, by a first
    name in it: then 'of' ends it ('Sen. Marco Rubio of Florida'), where an organisation
    goes on ('the Bank of America')."""
    index = last
    while index >= 0 and _is_cap(text, words[index]):
        word = text[words[index][0] : words[index][1]]
        low = word.lower()
        if low.strip(".,’'s") in ORGANISATION_WORDS:
            return False  # 'the Department of Justice'; but 'House Speaker Paul Ryan of'
        if low not in _SENTENCE_WORDS and first_name_gender(word):
            return True  # (not 'The', which is a first name somewhere)
        index -= 1
    return False


def _name_run(text: str, words: list[tuple[int, int]], last: int) -> int | None:
    """Index of the first word of the capitalised run ending at words[last], if any."""
    if not _is_cap(text, words[last]) or _lower(text, words[last]) in _SENTENCE_WORDS:
        return None
    first = last
    while first > 0:
        previous = words[first - 1]
        low = _lower(text, previous)
        if _is_cap(text, previous) and low not in _SENTENCE_WORDS:
            first -= 1
        elif (
            low in _NAME_PARTICLES
            and first - 2 >= 0
            and _is_cap(text, words[first - 2])
            and not (low == "of" and _names_a_person(text, words, first - 2))
        ):
            first -= 2
        else:
            break
    return _past_titles(text, words, first, last)


def _past_titles(text: str, words: list[tuple[int, int]], first: int, last: int) -> int:
    """Index of the first word of the name in the capitalised run words[first..last], once
    the titles before it are dropped: a title is role, not name ("Gov. Pat McCrory",
    "Secretary of State John Kerry"); but an organisation keeps its words ("the State
    Department", "the House Oversight Committee")."""
    if _lower(text, words[last]) in ORGANISATION_WORDS:
        return first
    titled = False
    while first < last:
        low = _lower(text, words[first])
        if low.rstrip(".") in TITLE_WORDS:
            titled = True
        elif not (titled and low in _NAME_PARTICLES):
            break  # a particle opening a name is the name's: 'Le Pen', 'De Blasio'
        first += 1  # 'Secretary of State John Kerry': a particle after a title goes with it
    return first


def _description_start(text: str, words: list[tuple[int, int]], last: int) -> int | None:
    """Index of the first word of a description ending at words[last] ("a U.S. official")."""
    if _lower(text, words[last]) in DETERMINERS:
        return None  # 'a swiftly called meeting': a determiner heads no one
    start = None
    bare_head = _lower(text, words[last]).rstrip(".") in ANONYMOUS_HEADS | DOCUMENT_HEADS
    index = last
    while index >= 0 and last - index < 14:
        low = _lower(text, words[index])
        if low in _BARRIERS or low in CUE_VERBS or low in AUXILIARIES:
            break
        if not low[0].isalnum() and low not in "’'":
            break  # punctuation, or a hyphen standing alone: a dash ('election -- the X')
        if low in DETERMINERS or _POSSESSIVE.match(text[words[index][0] : words[index][1]]):
            start = index
            # keep going: "one person familiar with the matter" starts at "one"
        elif low in _PREPOSITIONS and start is None and index < last:
            break
        index -= 1
    if start is not None:
        return start
    plural = _lower(text, words[last]).endswith("s") and _lower(text, words[last]).isalpha()
    if (bare_head or (plural and index < 0)) and last > index and last - index <= 4:
        return max(index + 1, last - 3)
    return None


def _peel(text: str, start: int, end: int) -> tuple[int, str | None]:
    """Drop auxiliaries and one appositive from the right of [start, end): new end, role."""
    role = None
    for _ in range(3):
        # only the last words matter: the stretch's tail is read, not the whole of it
        words = _words(text, max(start, end - 60), end)
        if not words:
            return end, role
        last = words[-1]
        low = _lower(text, last)
        # an adverb ('Jo Lee quickly said') is peeled off, a surname ('Kelly') is not
        adverb = low.endswith("ly") and text[last[0] : last[1]].islower()
        if (low in AUXILIARIES or adverb) and len(words) > 1:
            end = last[0]
            continue
        time = _TRAILING_TIME.search(text, max(start, end - 60), end)
        if time is not None and time.start() > start and text[start : time.start()].strip():
            end = time.start()
            continue
        of = next(
            (
                i
                for i in range(len(words) - 2, max(len(words) - 5, 0), -1)
                if _lower(text, words[i]) == "of"
            ),
            None,
        )
        if (
            of is not None
            and all(_is_cap(text, word) for word in words[of + 1 :])
            and _is_cap(text, words[of - 1])
            and _names_a_person(text, words, of - 1)
        ):
            end = words[of][0]  # 'Sen. Tammy Baldwin of Wisconsin said': the place is no name
            continue
        if _PARTY_TAG.fullmatch(text, last[0], last[1]) and len(words) > 1:
            comma = words[-2]
            if text[comma[0] : comma[1]] == ",":
                end = comma[0]  # 'Ada Fenwick, D-Ore., who chairs the panel,'
                continue
        if text[last[0] : last[1]] == ")":
            opening = text.rfind("(", start, last[0])
            if opening < 0:
                return end, role
            end = opening
            continue
        if text[last[0] : last[1]] == ",":
            opening = text.rfind(",", start, last[0])
            if opening < 0:
                return end, role
            middle = text[opening + 1 : last[0]].strip()
            first = middle.split(" ", 1)[0].lower()
            if first in DETERMINERS or first in TITLES or _POSSESSIVE.match(first):
                role = middle
            end = opening
            continue
        return end, role
    return end, role


def subject_before(text: str, floor: int, end: int) -> Mention | None:
    """The noun phrase that ends right before ``end`` (a cue), not starting before floor."""
    end, role = _peel(text, floor, end)
    words = _words(text, floor, end)
    if not words:
        return None
    last = len(words) - 1
    low = _lower(text, words[last])
    if low in PRONOUNS and (last == 0 or _lower(text, words[last - 1]) not in DETERMINERS):
        return Mention(words[last][0], words[last][1], "pronoun", role)
    if low in STANDALONE and (
        last == 0
        or not _lower(text, words[last - 1]).isalpha()
        or _lower(text, words[last - 1]) in _LINKING
    ):
        # 'Another said', 'Yet another said'
        return Mention(words[last][0], words[last][1], "description", role)
    first = _name_run(text, words, last)
    if first is not None:
        if first > 0 and _lower(text, words[first - 1]) in DETERMINERS:
            # "the Republican", "a Trump adviser": a description, not a name.
            return Mention(words[first - 1][0], words[last][1], "description", role)
        return Mention(words[first][0], words[last][1], "name", role)
    first = _description_start(text, words, last)
    if first is not None:
        return Mention(words[first][0], words[last][1], "description", role)
    return None


STANDALONE = frozenset(["another", "one", "others"])  # determiners that stand for someone
_LINKING = frozenset(["and", "but", "yet", "still", "while", "so", "then"])  # 'Yet another'
_RUN_ENDS = PRONOUNS | DETERMINERS  # capitalised, these open a sentence: 'Jr. He left'
# A word of two letters or more, no dot inside, and a full stop: 'Ledger.', 'CNN.', 'Lee.'
# or 'Wu.' ending a sentence, not 'U.S.' or 'J.' (nor 'Jr.': see _ABBREVIATION_STOPS)
_SENTENCE_STOP = re.compile(r"[^\W\d_][\w'’&-]*[^\W\d_]\.")
_ABBREVIATION_STOPS = _ABBREVIATED | frozenset(["inc.", "corp.", "co.", "ltd.", "bros.", "esq."])


def _stops_sentence(word: str) -> bool:
    """Whether the full stop ending ``word`` ends its sentence, not an abbreviation.

    >>> [_stops_sentence(w) for w in ["Lee.", "Wu.", "CNN.", "Jr.", "J.", "U.S.", "Lee"]]
    [True, True, True, False, False, False, False]
    """
    return bool(_SENTENCE_STOP.fullmatch(word)) and word.lower() not in _ABBREVIATION_STOPS


def _end_of_name(text: str, word: tuple[int, int]) -> int:
    """Where a phrase ending in ``word`` ends: before the full stop that ends its sentence
    ('," said Holan.', 'according to CNN.'), after an initial's or an abbreviation's."""
    return word[1] - _stops_sentence(text[word[0] : word[1]])


def subject_after(text: str, start: int, end: int, inverted: bool = False) -> Mention | None:
    """The noun phrase that starts at ``start``: a sentence's subject, or the speaker after
    an ``inverted`` cue ('said Jane Doe', '," said he.' but not '," said they would')."""
    words = _words(text, start, min(end, start + _MAX_PHRASE_REACH))
    if not words:
        return None
    low = _lower(text, words[0])
    if low in PRONOUNS:
        following = _lower(text, words[1]) if len(words) > 1 else "."
        if inverted and following[0].isalnum():
            return None
        return Mention(words[0][0], words[0][1], "pronoun")
    if _is_cap(text, words[0]) and low not in _SENTENCE_WORDS and low not in DETERMINERS:
        last = 0
        while last + 1 < len(words) and (
            # 'said Robert Smith Jr. He left': a new sentence's first word ends the name
            (_is_cap(text, words[last + 1]) and _lower(text, words[last + 1]) not in _RUN_ENDS)
            or (
                _lower(text, words[last + 1]) in _NAME_PARTICLES
                and last + 2 < len(words)
                and _is_cap(text, words[last + 2])
                and not (
                    _lower(text, words[last + 1]) == "of" and _names_a_person(text, words, last)
                )
            )
            or _office_and(text, words, last + 1)
        ):
            last += 1
        first = _past_titles(text, words, 0, last)
        titled = _name_after_title(text, words, last)
        if titled is not None:
            return titled
        end = _end_of_name(text, words[last])
        return Mention(words[first][0], end, "name", _role_after(text, words, last))
    if low in DETERMINERS or _POSSESSIVE.match(text[words[0][0] : words[0][1]]):
        last = 0
        while last + 1 < len(words) and last < 8:
            following = _lower(text, words[last + 1])
            if (
                following in _BARRIERS
                or following in AUXILIARIES
                or following in CUE_VERBS
                or not following[0].isalnum()
                or (following.endswith("ed") and last >= 1)
                or (last >= 1 and _verb_between(text, words, last + 1))
            ):
                break
            if (
                following in _ENDS_DESCRIPTION
                and (last + 2 >= len(words) or _lower(text, words[last + 2]) in DETERMINERS)
                and _lower(text, words[last]) not in _HEADS
            ):
                break
            last += 1
        end = _end_of_name(text, words[last])
        return Mention(words[0][0], end, "description")
    if low in ANONYMOUS_HEADS:
        return Mention(words[0][0], words[0][1], "description")
    return _titled_name(text, words)


def _office_and(text: str, words: list[tuple[int, int]], index: int) -> bool:
    """Whether the 'and' at words[index] is inside an office's name before a title and a
    person: 'Health and Human Services Secretary Xavier Becerra'."""
    if _lower(text, words[index]) != "and":
        return False
    for after in range(index + 1, min(index + 5, len(words) - 1)):
        if not _is_cap(text, words[after]):
            return False
        if _lower(text, words[after]).rstrip(".") in TITLE_WORDS:
            return after > index + 1 and _is_cap(text, words[after + 1])
    return False


def _role_then_name(text: str, words: list[tuple[int, int]], index: int) -> int | None:
    """The index of the name after lower-case role words that start at words[index]
    ('hopeful Nikki Haley', 'press secretary Karoline Leavitt'), if they read so: at most
    three of them, the last a role noun, or any nouns before a known first name and a
    surname."""
    after = index
    while after < len(words) and after - index < 3 and _lower(text, words[after]).isalpha():
        low = _lower(text, words[after])
        if _is_cap(text, words[after]):
            break
        if low in _BARRIERS or low in DETERMINERS or low in AUXILIARIES or low in CUE_VERBS:
            return None
        if low in _PREPOSITIONS or low in _SENTENCE_WORDS or low in PRONOUNS:
            return None
        after += 1
    if after == index or after + 1 >= len(words) or not _is_cap(text, words[after]):
        return None
    if _lower(text, words[after - 1]) in _ROLE_WORDS:
        return after
    if not _is_cap(text, words[after + 1]) or first_name_gender(text[slice(*words[after])]) is None:
        return None
    return None if _lower(text, words[after - 1]).endswith(("ed", "ly", "ing")) else after


def _name_after_title(text: str, words: list[tuple[int, int]], last: int) -> Mention | None:
    """'said Space Launch System program manager John Honeycutt': the capitalised words
    end in a lower-case title and a name follows; the name speaks, the rest is the role."""
    # 'said Republican strategist Ryan Williams', not 'said Trump in New York'
    index = _role_then_name(text, words, last + 1)
    if index is None:
        return None
    stop = index
    while stop + 1 < len(words) and _is_cap(text, words[stop + 1]):
        stop += 1
    if stop == index or _POSSESSIVE.match(text[words[stop][0] : words[stop][1]]):
        return None  # 'manager Smith' is too little to go on; "candidate Jo Lee's doctor"
    end = _end_of_name(text, words[stop])
    role = text[words[0][0] : words[index - 1][1]]
    return Mention(words[index][0], end, "name", role)


def _verb_between(text: str, words: list[tuple[int, int]], index: int) -> bool:
    """Whether words[index], after a description's head, reads as its verb: 'The ad targets
    a ...', 'His office put out ...', 'The senator sought to ...'."""
    if index + 1 >= len(words):
        return False
    word = _lower(text, words[index])
    if not word.isalpha() or not text[words[index][0]].islower():
        return False
    if word in _PREPOSITIONS or word in TITLES or word in ANONYMOUS_HEADS | DOCUMENT_HEADS:
        return False
    following = _lower(text, words[index + 1])
    return (
        following in DETERMINERS
        or following in {"to", "out", "up", "off"}
        or _is_cap(text, words[index + 1])
    )


def _titled_name(text: str, words: list[tuple[int, int]]) -> Mention | None:
    """A name behind a lower-case title: 'former Obama adviser David Axelrod'."""
    last = None
    for index, word in enumerate(words[:8]):
        low = _lower(text, word)
        if low in _BARRIERS or not low[0].isalnum() or low in CUE_VERBS:
            break
        if _is_cap(text, word):
            last = index
        elif last is not None:
            following = words[index + 1] if index + 1 < len(words) else None
            if low.rstrip(".") in _ROLE_WORDS and following and _is_cap(text, following):
                continue  # 'undecided Republican voter Jo Lee': a role, and the name after
            if _role_then_name(text, words, index) is not None:
                continue  # 'new White House press secretary Jo Lee'
            break
    if last is None:
        return None
    first = _name_run(text, words, last)
    if first is None:
        return None
    end = _end_of_name(text, words[last])
    return Mention(words[first][0], end, "name", _role_after(text, words, last))


def _role_after(text: str, words: list[tuple[int, int]], last: int) -> str | None:
    """An appositive after a name: ', a spokeswoman for the agency,'."""
    if last + 2 >= len(words) or text[words[last + 1][0]] != ",":
        return None
    first = _lower(text, words[last + 2])
    if first not in DETERMINERS and first not in TITLES:
        return None
    start = words[last + 2][0]
    stop = len(text)
    for mark in (",", ".", ";", "—"):
        found = text.find(mark, start, start + 200)
        if 0 <= found < stop:
            stop = found
    role = text[start:stop].strip()
    return role if 0 < len(role) <= 160 else None


def cue_object(text: str, cue: tuple[int, int], end: int) -> tuple[str, str | None]:
    """The cue as the text gives it and the outlet it names, if any: 'told POLITICO' is
    the cue 'told' by way of POLITICO. Whom a speaker told is never part of the cue: an
    outlet goes to ``via``, anyone else (a person, a name it cannot tell) nowhere."""
    verb = text[cue[0] : cue[1]]
    match = _CUE_TARGET.match(text, cue[1], end)
    if verb.lower() in _TOLD and match:
        target = match.group(1).strip()
        if target in ("reporters", "us"):
            return f"{verb} {target}", None
        if target.endswith(".") and "." not in target.rsplit(" ", 1)[-1][:-1]:
            target = target[:-1]  # 'told CNN.': the sentence's full stop
        return verb, _told_outlet(text, target, match.end(1), end)
    outlet = _CUE_OUTLET.match(text, cue[1], end)
    if outlet and is_outlet(outlet.group(1).strip()):
        return verb, outlet.group(1).strip()
    return verb, None


_CALL_LETTERS = re.compile(r"[A-Z]{2,5}-(?:TV|FM|AM|DT)|[KW][A-Z]{3}")  # 'WSAZ-TV', 'KQED'
_PROGRAMME = re.compile(r"\s*[“\"]([^”\"\r\n]{1,60}?)[.,]?[”\"]")  # NBC’s “Meet the Press.”


def _told_outlet(text: str, target: str, after: int, end: int) -> str | None:
    """The outlet in 'told <target>', if the target reads as one: a known outlet or a name
    ending like one ('Bloomberg Television', 'the Charleston Gazette-Mail'), call letters
    ('WSAZ-TV'), a possessive owner of a programme in quotes (NBC’s “Meet the Press”) or
    of a journalist (CBS News’ Margaret Brennan, via CBS News)."""
    owned = re.match(r"((?:the |The )?[A-Z].*?)['’]s?(?:\s+[A-Z].*)?$", target)
    if owned is not None:
        owner = owned.group(1)
        programme = _PROGRAMME.match(text, after, max(end, min(len(text), after + 70)))
        if programme is not None and target.endswith(("’s", "'s", "’", "'")):
            return f"{target} “{programme.group(1)}”"
        return owner if _reads_as_outlet(owner) else None
    return target if _reads_as_outlet(target) else None


def _reads_as_outlet(name: str) -> bool:
    if is_outlet(name) or _CALL_LETTERS.fullmatch(name):
        return True
    words = name.lower().removeprefix("the ").split()
    return len(words) > 1 and any(p in OUTLET_ENDINGS for p in words[-1].split("-"))


@cache
def _first_names():
    """gender-guesser's first-name table, read once per process (about a second)."""
    import gender_guesser.detector

    return gender_guesser.detector.Detector(case_sensitive=False)


# gender-guesser's answers as (gender, whether certain): a 'mostly_male' name such as
# Taylor or Morgan is only a prior, which what the text says of the person overrides
_GUESSES = {
    "male": ("m", True),
    "female": ("f", True),
    "mostly_male": ("m", False),
    "mostly_female": ("f", False),
}


@cache
def first_name_guess(word: str) -> tuple[str | None, bool]:
    """('m' or 'f', whether the name data is certain) for a first name, else (None, False)."""
    word = word.strip(".,’'").split("-")[0]
    if len(word) < 2 or not word[0].isupper() or word.isupper():
        return None, False
    return _GUESSES.get(_first_names().get_gender(word), (None, False))


def first_name_gender(word: str) -> str | None:
    """'m' or 'f' for a first name the name data knows, mostly or always, one way; else None."""
    return first_name_guess(word)[0]


def role_before(text: str, start: int) -> str | None:
    """The office written right before a name that the name's own words leave out: 'State
    Department spokesman John Kirby', 'undecided Republican voter Jo Lee', 'Senate' before
    'Majority Leader Mitch McConnell'. It ends in a title or a role noun ('spokesman',
    'strategist'); None when the name follows anything else."""
    before = text[max(0, start - 30) : start]
    previous = before.split()[-1:]
    if not before[-1:].isspace() or not previous:
        return None
    if previous[0].lower().rstrip(".") not in _ROLE_WORDS:
        return None  # most names follow no title: settled before reading further back
    words = _words(text, max(0, start - 80), start)
    last = len(words) - 1
    first = last
    while first > 0 and last - first < 5:
        low = _lower(text, words[first - 1])
        if _LINE_BREAK.search(text, words[first - 1][1], words[first][0]) or (
            low.endswith(".") and low[:-1] not in TITLE_WORDS and len(low) > 2
        ):
            break  # 'the veto would fall.\n\nHouse Speaker Paul Ryan': another sentence
        if low == "of" and first >= 2 and _is_cap(text, words[first - 2]):
            first -= 1  # 'Secretary of State'
            continue
        if (
            not low[0].isalnum()
            or low in DETERMINERS
            or low in _PREPOSITIONS
            or low in _BARRIERS
            or low in CUE_VERBS
            or low in AUXILIARIES
            or low in _SENTENCE_WORDS
            or _POSSESSIVE.match(text[words[first - 1][0] : words[first - 1][1]])
        ):
            break
        first -= 1
    return text[words[first][0] : words[last][1]]


@lru_cache(maxsize=1 << 16)
def person_and_role(name: str) -> tuple[str, str | None]:
    """Split what stands before a person's name into a role: 'NASA Administrator Jim
    Bridenstine' -> ('Jim Bridenstine', 'NASA Administrator'), "NASA's Steve Clarke" ->
    ('Steve Clarke', 'NASA'). The name starts at a known first name or after the last
    title word, and keeps at least two words; anything else is left as it is."""
    words = name.split()
    if len(words) < 3 and not any(w.endswith(("’s", "'s")) for w in words[:-1]):
        return name, None
    cut = 0
    for index, word in enumerate(words[:-1]):
        if word.endswith(("’s", "'s")):
            cut = index + 1  # "NASA's", "the agency's": an organisation owns the person
    start = None
    for index in range(cut, len(words) - 1):
        word = words[index]
        if first_name_gender(word) or re.fullmatch(r"[A-Z]\.", word):
            start = index
            break
    titled = [i for i in range(cut, len(words) - 2) if words[i].lower() in TITLES]
    if start is None or (titled and titled[-1] >= start):
        # no first name, or a title after what looked like one: 'Virginia Sen. Tim Kaine'
        start = titled[-1] + 1 if titled else cut
    if start == 0 or len(words) - start < (1 if cut else 2):
        return name, None
    role = " ".join(words[:start]).removesuffix("’s").removesuffix("'s").strip(" ,")
    return " ".join(words[start:]), role or None


class NameMention(NamedTuple):  # a tuple: made for every capitalised run of a text
    start: int
    end: int
    name: str
    subject: bool  # opens its sentence


class Entities:
    """The names of one document, for resolving mentions to canonical speakers."""

    _RUN = re.compile(  # the capital first, then the look behind: a faster scan
        r"[A-Z](?<![\w'’][A-Z])[\w'’.-]*(?:\s+(?:(?:de|van|von|del|da|bin|al)\s+)?[A-Z][\w'’.-]*)*"
    )
    # 'Jane Doe, the agency's spokeswoman,': the role after the comma is looked for first
    # (a scan for ", " is fast), then the name that ends at the comma.
    _APPOSITIVE = re.compile(
        r", ((?:the|a|an|his|her|its|their|[A-Z][\w.-]*['’]s) [^,.;:“”\"\r\n]{3,140}?)[,.;]"
    )
    _NAME_BEFORE = re.compile(r"(?:[A-Z][\w'’.-]*\s)*[A-Z][\w'’.-]*\Z")

    def __init__(self, text: str, quoted: list[tuple[int, int]]) -> None:
        self._text = text
        self._mentions: list[NameMention] = []
        self._roles: dict[str, str] = {}
        full_names: Counter[str] = Counter()
        quote_starts = [span[0] for span in quoted]
        prefixes: list[tuple[str, str]] = []  # (name, the role written before it)
        titled: set[str] = set()
        for run in self._RUN.finditer(text):
            if _inside(quoted, quote_starts, run.start()):
                continue
            for piece_start, piece_end in _sentence_pieces(text, run.start(), run.end()):
                first = text[piece_start:piece_end].split(" ", 1)
                opening = len(first) > 1 and first[0] in OPENING_CUES
                if opening and opens_sentence(text, piece_start):
                    piece_start += len(first[0]) + 1  # 'Said Varga:', not 'Omar Said'
                named = _piece_name(text[piece_start:piece_end])
                if named is None:
                    continue
                name, prefix, honorific = named
                if honorific:
                    titled.add(name)  # 'Mrs. Achterberg': a person, named by surname
                if prefix:
                    prefixes.append((name, prefix))
                end = piece_end
                start = end - len(name)
                if " " in name and name.count(" ") < _MOST_NAME_WORDS:
                    full_names[name] += 1  # (a longer run is a headline: 'Weiner Receives ...')
                self._mentions.append(
                    NameMention(start, end, name, _opens_clause(text, piece_start))
                )
        self._full = full_names
        self._titled = titled
        self._by_surname: dict[str, list[str]] = {}
        for name, _count in full_names.most_common():
            self._by_surname.setdefault(name.rsplit(" ", 1)[-1], []).append(name)
        self._persons = [m for m in self._mentions if self._is_person(m.name)]
        self._person_starts = [m.start for m in self._persons]
        for match in self._APPOSITIVE.finditer(text):
            before = self._NAME_BEFORE.search(text[max(0, match.start() - 100) : match.start()])
            if before is None:
                continue
            name = self._strip_titles(before.group())
            if name and _personal(name):
                self._roles.setdefault(self.canonical(name), match.group(1).strip())
        for name, prefix in prefixes:
            self._roles.setdefault(self.canonical(name), prefix)
        self._genders: dict[str, str | None] = {}
        self._honorifics: dict[str, str] | None = None  # surname -> gender, when first asked
        self._pronouns: dict[str, str | None] | None = None  # name -> gender, when first asked

    @staticmethod
    def _strip_titles(run: str) -> str:
        return _strip_titles(run)

    def _is_person(self, name: str) -> bool:
        return " " in name or name in self._by_surname or name in self._titled

    def canonical(self, name: str) -> str:
        """The document's usual full form of a person's name ("Krebs" -> "Chris Krebs"),
        without the title or organisation written before it."""
        name = person_and_role(name.removesuffix("’s").removesuffix("'s"))[0]
        if name.isupper() and name.title().rsplit(" ", 1)[-1] in self._by_surname:
            name = name.title()  # a transcript's 'PENCE:' is the Pence the text names
        surname = name.rsplit(" ", 1)[-1]
        candidates = self._by_surname.get(surname, [])
        if " " not in name:
            return candidates[0] if candidates else name
        first = name.split(" ", 1)[0].rstrip(".")
        for candidate in candidates:  # most frequent first
            other = candidate.split(" ", 1)[0].rstrip(".")
            if candidate != name and (other.startswith(first) or first.startswith(other)):
                return candidate if self._full[candidate] > self._full[name] else name
        return name

    def role(self, name: str) -> str | None:
        return self._roles.get(name)

    def antecedent(
        self, position: int, floor: int, last_speaker: str | None, pronoun: str = ""
    ) -> str | None:
        """The person a he/she at ``position`` most likely refers to: the nearest sentence
        subject since ``floor`` (the previous paragraph), else the last person quoted
        (``last_speaker``), else the nearest person named; never a person of the other
        gender, as first name, honorific or earlier pronoun tell it."""
        wanted = _PRONOUN_GENDER.get(pronoun.lower())
        index = bisect.bisect_left(self._person_starts, position)
        nearest = None
        for mention in reversed(self._persons[max(0, index - 12) : index]):
            if mention.start < floor:
                break
            if not self._agrees(mention.name, wanted):
                continue
            if mention.subject:
                return self.canonical(mention.name)
            nearest = nearest or mention
        if last_speaker is not None and self._agrees(last_speaker, wanted):
            return last_speaker
        if nearest is None:
            for mention in reversed(self._persons[max(0, index - 12) : index]):
                if self._agrees(mention.name, wanted):
                    nearest = mention
                    break
        return self.canonical(nearest.name) if nearest else None

    def _agrees(self, name: str, wanted: str | None) -> bool:
        if wanted is None:
            return True
        found = self.gender(self.canonical(name))
        return found is None or found == wanted

    def gender(self, name: str) -> str | None:
        """'m', 'f' or None for a person of this document: an honorific before their
        surname ('Mrs. Lind'), else a first name the name data is certain of, else a pronoun
        the text puts right after the name ('Taylor Morgan said she'), else a first name
        that is mostly one gender."""
        if name in self._genders:
            return self._genders[name]
        words = name.split()
        if self._honorifics is None:
            self._honorifics = {
                match.group(2): _HONORIFIC_GENDER[match.group(1).lower()]
                for match in _HONORIFIC.finditer(self._text)
            }
        found = self._honorifics.get(words[-1])
        if found is None and len(words) > 1:
            found, certain = first_name_guess(words[0])
            if not certain:
                found = self._pronoun_genders().get(name) or found
        self._genders[name] = found
        return found

    def _pronoun_genders(self) -> dict[str, str | None]:
        """The gender of the he or she that opens a clause right after a person's name,
        by canonical name: 'Taylor Morgan said she', 'Taylor Morgan, who said she'; None
        for a person the text gives both."""
        if self._pronouns is None:
            self._pronouns = {}
            for mention in self._persons:
                match = _PRONOUN_AFTER.match(self._text, mention.end)
                if match is None or match.group(1).lower() not in CUE_VERBS:
                    continue
                name = self.canonical(mention.name)
                wanted = _PRONOUN_GENDER[match.group(2).lower()]
                known = self._pronouns.setdefault(name, wanted)
                if known != wanted:
                    self._pronouns[name] = None
        return self._pronouns

    def learn_gender(self, name: str, pronoun: str) -> None:
        """A pronoun resolved to a person whose gender nothing else told."""
        wanted = _PRONOUN_GENDER.get(pronoun.lower())
        if wanted is not None and self.gender(name) is None:
            self._genders[name] = wanted

    def is_person(self, name: str) -> bool:
        return self._is_person(name) and _personal(name)


@lru_cache(maxsize=1 << 16)
def _strip_titles(run: str) -> str:
    words = run.split()
    while words and (words[0].lower() in TITLES or words[0].lower() in _SENTENCE_WORDS):
        words.pop(0)
    while words and words[-1].lower() in _SENTENCE_WORDS:
        words.pop()
    return " ".join(words)


@lru_cache(maxsize=1 << 16)  # the same capitalised runs come back in every document
def _piece_name(piece: str) -> tuple[str, str | None, bool] | None:
    """A capitalised run read as a person's name: (name, the title or organisation written
    before it, whether an honorific opens it), or None when it names no one."""
    name = _strip_titles(piece)
    if not name or name.lower() in TIME_NAMES:
        return None
    # the role split off first: 'Harris County Judge Lina Hidalgo' is a person, though
    # 'County' makes the whole run read as an organisation
    person, prefix = person_and_role(name)
    if not _personal(person if prefix else name):
        return None
    name = person
    return name, prefix, piece.split(" ", 1)[0].lower().rstrip(".") in _HONORIFICS


def _sentence_pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a capitalised run at sentence ends: "Chris Krebs. Hours" is two runs, while
    "George W. Bush" and "Sen. Tim Kaine" are one."""
    run = text[start:end]
    if "." not in run and run and run == run.strip():
        return [(start, end)]  # no full stop, nothing to split (most runs: one word)
    pieces, piece_start = [], start
    for token in _TOKEN.finditer(text, start, end):
        word = token.group()
        initial = len(word) == 2 or "." in word[:-1] or word.lower() in _ABBREVIATED
        if word.endswith(".") and not initial:
            pieces.append((piece_start, token.end() - 1))
            piece_start = token.end()
    if piece_start < end:
        pieces.append((piece_start, end))
    return [
        (a + len(text[a:b]) - len(text[a:b].lstrip()), b) for a, b in pieces if text[a:b].strip()
    ]


def _inside(spans: list[tuple[int, int]], starts: list[int], position: int) -> bool:
    index = bisect.bisect_right(starts, position) - 1
    return index >= 0 and spans[index][0] <= position < spans[index][1]


@lru_cache(maxsize=1 << 16)
def _personal(name: str) -> bool:
    """Whether a capitalised run can be a person's name (not an outlet or organisation)."""
    words = name.lower().split()
    if any(word.strip(".,’'s") in ORGANISATION_WORDS for word in words) or is_outlet(name):
        return False
    if _PARTY_TAG.fullmatch(name):
        return False  # 'Paul Ryan, R-Wis.,': the party and state of the name before
    # 'CNN' is no person, nor a headline in capitals ('RED STATES OUTNUMBER BLUE STATES')
    return not name.isupper() or len(words) == 2


_LINE_BREAK = re.compile(r"[\r\n]")
_CLAUSE_END = re.compile(r"[.!?\r\n]")


def opens_sentence(text: str, start: int) -> bool:
    """Whether the word at ``start`` opens a sentence: nothing but spaces stands between it
    and the text's start, a line break, or a full stop, '!' or '?' (and the closing mark
    of a quote that ends there: '“We won.” Said Varga')."""
    before = text[max(0, start - 40) : start].rstrip(" \t\u00a0")
    if before.endswith(("”", '"')):
        before = before[:-1]
    return not before or before[-1] in ".!?\r\n"


def _opens_clause(text: str, start: int) -> bool:
    """Whether the word at ``start`` opens its clause, where a subject stands: it opens a
    sentence, follows a quotation ('“...” Krebs said'), or follows a short adverbial and
    a comma ('On Thursday evening, Krebs retweeted')."""
    if opens_sentence(text, start):
        return True
    before = text[max(0, start - 40) : start].rstrip()
    if before.endswith(("”", '"')):
        return True
    if not before.endswith(","):
        return False
    clause = _CLAUSE_END.split(before)[-1]
    return clause.count(",") == 1 and len(clause) < 40


def is_anonymous(description: str) -> bool:
    """Whether a description stands for unnamed people: "a former senior U.S. official",
    "officials", "one skipper who asked not to be named"; not "the statement"."""
    words = re.findall(r"[\w.]+", description.lower())
    if not words or any(w in DOCUMENT_HEADS for w in words[:4]):
        return False
    if any(w in ANONYMOUS_HEADS for w in words[:8]) or _UNNAMED.search(description):
        return True
    return words[0] in _INDEFINITE


_ISSUED = "statement|release|letter|memo|announcement|email|tweet|filing|notice|message|post"
_ISSUER = (  # an organisation's or person's name: 'the Department of Homeland Security'
    r"(?:[Tt]he\s+)?(?P<org>[A-Z][\w.&’'-]*"
    r"(?:\s+(?:of|and|for|on|the)\s+[A-Z][\w.&’'-]*|\s+[A-Z][\w.&’'-]*)*)"
)
_IN_ISSUED = (
    rf"\b[Ii]n\s+(?:a|an|its|their|his|her)\s+(?:[\w-]+\s+){{0,2}}(?:{_ISSUED})s?\b"
    r"(?:\s+[\w’'-]+){0,4}?,\s+"  # 'In a statement posted Tuesday, '
)
_ISSUING_VERBS = "said|says|wrote|announced|added|argued|warned|stated|confirmed|called"
_ISSUERS = (
    re.compile(
        rf"\b(?:issued|released|distributed|published|put out|sent|signed)\s+by\s+{_ISSUER}"
    ),
    re.compile(
        rf"{_ISSUER}\s+(?:issued|released|distributed|published|put out|sent out|posted)\s+"
        rf"(?:a|an|the|its|their|his|her)\s+(?:[\w-]+\s+){{0,3}}(?:{_ISSUED})s?\b"
    ),
    re.compile(rf"\b(?:{_ISSUED})s?\s+(?:from|by)\s+{_ISSUER}"),
    re.compile(
        rf"{_ISSUER}\s+said\s+in\s+(?:a|an|its|their)\s+(?:[\w-]+\s+){{0,2}}(?:{_ISSUED})\b"
    ),
    # 'In a statement, the Department of Health said ...'
    re.compile(rf"{_IN_ISSUED}{_ISSUER}\s+(?:{_ISSUING_VERBS})\b"),
    # 'In an email, a spokeswoman for the county said ...': someone unnamed issued it
    re.compile(
        rf"{_IN_ISSUED}(?P<org>(?:an?|the)\s+[a-z][^,.;:“”\"\r\n]{{0,60}}?)\s+(?:{_ISSUING_VERBS})\b"
    ),
)


def issuer(text: str, start: int, end: int) -> str | None:
    """Who issued the document a mention at [start, end) names ("the statement said"):
    the nearest 'distributed by X', 'X issued a statement', 'a statement from X' or
    'X said in a statement' within a few paragraphs; a possessive owner ("the agency's
    statement") first."""
    said = text[start:end]
    words = said.split()
    if not words or words[-1].lower().strip(".,") not in _ISSUED.split("|"):
        return None
    owner = re.match(r"(?:[Tt]he\s+)?(.+?)['’]s?\s+(?:[\w-]+\s+){0,2}\w+$", said)
    if owner and owner.group(1)[0].isupper():
        return owner.group(1)
    best = None
    low, high = max(0, start - 3000), min(len(text), end + 600)
    for pattern in _ISSUERS:
        for match in pattern.finditer(text, low, high):
            org = match.group("org").strip()
            if match.start("org") >= start and match.start("org") < end:
                continue
            distance = abs(match.start() - start)
            if best is None or distance < best[0]:
                best = (distance, org)
    return best[1] if best else None


def issuer_before(text: str, start: int, end: int) -> str | None:
    """The organisation or person last named in [start, end) as issuing a document ('The
    NAACP released a statement Tuesday.'): whom an 'it said' after it stands for."""
    found = None
    for pattern in _ISSUERS:
        for match in pattern.finditer(text, start, end):
            if match.group("org")[0].isupper() and (found is None or match.start() > found[0]):
                found = (match.start(), match.group("org").strip())
    return found[1] if found else None


def head_noun(description: str) -> str | None:
    words = re.findall(r"[\w]+", description.lower())
    for word in words:
        if word in ANONYMOUS_HEADS or word in DOCUMENT_HEADS:
            return word
    return None


# -- a speaker as the archive records it, whichever attributor named it ---------------------


def settle_speaker(name: str | None, anonymous: bool) -> tuple[str | None, bool]:
    """The speaker's name as stored, and whether it stands for someone unnamed: space
    collapsed (a PDF's wrapped line), the sentence's full stop dropped from a name (not
    an abbreviation's or an initial's), a description of an unnamed person ("a department
    spokesperson") marked anonymous even where a modifier looks like an organisation.

    >>> settle_speaker("Benjamin Adeyemi.", False)
    ('Benjamin Adeyemi', False)
    >>> settle_speaker("Martin Luther King Jr.", False), settle_speaker("Acme Inc.", False)
    (('Martin Luther King Jr.', False), ('Acme Inc.', False))
    >>> settle_speaker("a department\\nspokesperson", False)
    ('a department spokesperson', True)
    >>> settle_speaker("the department", False)
    ('the department', False)
    """
    if name is None:
        return None, anonymous
    name = " ".join(name.split())
    if _stops_sentence(name.rsplit(" ", 1)[-1]):
        name = name[:-1]
    words = re.findall(r"[\w]+", name.lower())
    if (
        not anonymous
        and words
        and words[0] in _INDEFINITE
        and any(word in ANONYMOUS_HEADS for word in words[1:6])
    ):
        anonymous = True
    return name, anonymous
