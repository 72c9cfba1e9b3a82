"""Ready-made citations of a quote: pure functions from a :class:`Citable` to text.

A quote is cited through the document that published it, and the archived copy is named
so a reader can check the words even after the original page changed or vanished. Dates
are the publisher's own (the day the page shows, in the zone it was published in).
Organisations are never split like people: an author that is the publisher, or whose name
has an organisation's shape ("Lakeland County Elections Office"), is cited whole; a page
with no author (a press release) is cited under its publisher, in every style and in the
CSL-JSON a reference manager imports.

>>> from datetime import datetime, timezone
>>> item = Citable(
...     quote_id="q-0123456789abcdef",
...     quote="We will publish every count.",
...     speaker="Dana Whitfield",
...     title="County certifies its results",
...     authors=("Maria Lopez", "Sam O'Neil"),
...     publisher="The Harbour Gazette",
...     published=datetime(2026, 11, 3, 9, 30, tzinfo=timezone.utc),
...     url="https://gazette.example/results",
...     archived_url="https://onrecord.example/20261103101500/https://gazette.example/results",
...     captured=datetime(2026, 11, 3, 10, 15, tzinfo=timezone.utc),
...     permalink="https://onrecord.example/quote/q-0123456789abcdef",
... )
>>> print(apa(item))
Lopez, M., & O'Neil, S. (2026, November 3). County certifies its results. The Harbour \
Gazette. Retrieved November 3, 2026, from https://gazette.example/results (archived at \
https://onrecord.example/20261103101500/https://gazette.example/results)
>>> print(mla(item))
Lopez, Maria, and Sam O'Neil. "County Certifies Its Results." The Harbour Gazette, 3 Nov. \
2026, https://gazette.example/results. Archived by onrecord, 3 Nov. 2026, \
https://onrecord.example/20261103101500/https://gazette.example/results.
>>> print(chicago(item))
Lopez, Maria, and Sam O'Neil. "County Certifies Its Results." The Harbour Gazette, November \
3, 2026. https://gazette.example/results. Archived November 3, 2026. \
https://onrecord.example/20261103101500/https://gazette.example/results.
>>> print(bibtex(item))
@online{lopez2026county-01234567,
  author = {Lopez, Maria and O'Neil, Sam},
  title = {County certifies its results},
  organization = {The Harbour Gazette},
  date = {2026-11-03},
  url = {https://gazette.example/results},
  urldate = {2026-11-03},
  note = {Quoting Dana Whitfield: ``We will publish every count.''. Archived copy: \
https://onrecord.example/20261103101500/https://gazette.example/results},
}
>>> csl_json(item)["author"]
[{'family': 'Lopez', 'given': 'Maria'}, {'family': "O'Neil", 'given': 'Sam'}]
>>> from dataclasses import replace
>>> release = replace(item, authors=(), publisher="Lakeland County Elections Office")
>>> print(apa(release).split(" (archived")[0])
Lakeland County Elections Office. (2026, November 3). County certifies its results. \
Retrieved November 3, 2026, from https://gazette.example/results
>>> csl_json(release)["author"]
[{'literal': 'Lakeland County Elections Office'}]
>>> print(bibtex(release).splitlines()[1])
  author = {{Lakeland County Elections Office}},
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlsplit

__all__ = ["STYLES", "Citable", "apa", "bibtex", "chicago", "csl_json", "mla"]

_MLA_MONTHS = (
    "Jan.",
    "Feb.",
    "Mar.",
    "Apr.",
    "May",
    "June",
    "July",
    "Aug.",
    "Sept.",
    "Oct.",
    "Nov.",
    "Dec.",
)


# Lower-case words that make a name an organisation's ("Office of the Clerk").
_CONNECTIVES = frozenset({"of", "the", "and", "for", "on", "&"})
# Words that make a name an organisation's wherever they stand ("Lakeland County Elections
# Office", "Gazette Staff"): the nouns institutions, newsrooms and companies are named with,
# leaving out those that are also common family names (Post, Court, Bank, Union...).
_ORGANISATION_WORDS = frozenset(
    """
    office department ministry agency council committee commission board bureau authority
    service services county city state government administration court parliament senate
    assembly police army navy embassy secretariat directorate division unit
    association institute university college school hospital foundation trust fund
    campaign federation coalition centre center
    news press times gazette herald tribune journal chronicle telegraph courier
    radio television tv media broadcasting newsroom editors editorial
    staff desk inc inc. ltd ltd. llc plc corp corp. corporation company co. gmbh
    """.split()  # noqa: SIM905
)
# Words MLA and Chicago leave in lower case inside a title: articles, coordinating
# conjunctions, prepositions, and "to" and "as".
_MINOR_WORDS = frozenset(
    """
    a an the and but or nor for so yet as to at by from in into of off on onto out over
    per up upon via with within without about after against among before between
    through under until vs. v.
    """.split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Citable:
    """What a citation of one quote needs; every text field comes from archived content."""

    quote_id: str
    quote: str
    speaker: str | None
    title: str | None
    authors: tuple[str, ...]
    publisher: str | None
    published: datetime | None
    url: str  # the original page
    archived_url: str  # the capture in this archive
    captured: datetime
    permalink: str  # the quote page
    page: int | None = None  # the page of a PDF the quote stands on


def is_organisation(name: str, publisher: str | None = None) -> bool:
    """Whether an author's name is an organisation's rather than a person's: the
    publisher's own name, one word, more than four, or an institution's words.

    >>> is_organisation("Maria Cruz")
    False
    >>> is_organisation("Lakeland County Elections Office")
    True
    >>> is_organisation("Brightwater Tribune", publisher="brightwater tribune")
    True
    """
    parts = name.split()
    if publisher and name.casefold() == " ".join(publisher.split()).casefold():
        return True
    if len(parts) < 2 or len(parts) > 4 or _CONNECTIVES.intersection(parts):
        return True
    if any(not part[:1].isalpha() for part in parts):
        return True  # digits or symbols: "Channel 4 News", "AT&T"
    return any(part.casefold() in _ORGANISATION_WORDS for part in parts)


@lru_cache(maxsize=4096)  # a page's citations split the same names several times
def _split_name(name: str, publisher: str | None = None) -> tuple[str, str]:
    """(family, given) of a personal name; an organisation's name is all family.

    >>> _split_name("Maria Cruz")
    ('Cruz', 'Maria')
    >>> _split_name("Reuters")
    ('Reuters', '')
    >>> _split_name("Office of the County Clerk")
    ('Office of the County Clerk', '')
    >>> _split_name("Lakeland County Elections Office")
    ('Lakeland County Elections Office', '')
    """
    parts = name.split()
    if is_organisation(name, publisher):
        return " ".join(parts), ""
    return parts[-1], " ".join(parts[:-1])


def _creators(item: Citable) -> tuple[str, ...]:
    """Who a citation names first: the authors, or the publisher of a page without any
    (a press release is the publishing organisation's own work)."""
    if item.authors:
        return item.authors
    return (item.publisher,) if item.publisher else ()


def _names(item: Citable) -> list[tuple[str, str]]:
    """(family, given) of each creator; given is empty for an organisation."""
    return [_split_name(name, item.publisher) for name in _creators(item)]


def _initials(given: str) -> str:
    """Initials of given names, hyphens kept.

    >>> _initials("Mary-Ann Jo")
    'M.-A. J.'
    """
    out = []
    for word in given.split():
        out.append("-".join(piece[:1] + "." for piece in word.split("-") if piece))
    return " ".join(out)


def _join(names: list[str], last: str) -> str:
    """Names in a list, ``last`` before the final one.

    >>> _join(["A", "B", "C"], ", & ")
    'A, B, & C'
    """
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + last + names[-1]


def _long_date(moment: datetime) -> str:
    return f"{moment:%B} {moment.day}, {moment.year}"


def _mla_date(moment: datetime) -> str:
    return f"{moment.day} {_MLA_MONTHS[moment.month - 1]} {moment.year}"


def _title(item: Citable) -> str:
    return item.title or item.url


@lru_cache(maxsize=4096)
def title_case(text: str) -> str:
    """A title in the headline case of MLA and Chicago: principal words capitalised,
    minor words lower case unless first, last or after a colon; words already holding
    capitals ("iPhone", "NASA") kept as written.

    >>> title_case("county certifies its results: a count of every ballot in the state")
    'County Certifies Its Results: A Count of Every Ballot in the State'
    >>> title_case("what voters should know about mail-in ballots")
    'What Voters Should Know about Mail-In Ballots'
    """
    words = text.split(" ")
    out = []
    for position, word in enumerate(words):
        edge = position in (0, len(words) - 1) or (out and out[-1].endswith((":", "—", "?", "!")))
        out.append(
            "-".join(_capitalised(part, edge or n > 0) for n, part in enumerate(word.split("-")))
        )
    return " ".join(out)


def _capitalised(word: str, edge: bool) -> str:
    letters = word.lstrip("\"'“‘([")
    if not letters or any(ch.isupper() for ch in letters) or "." in letters.rstrip("."):
        return word  # capitals, initialisms and URLs are the publisher's own
    if not edge and letters.casefold().rstrip(",;:") in _MINOR_WORDS:
        return word
    lead = word[: len(word) - len(letters)]
    return lead + letters[0].upper() + letters[1:]


def _sentence(text: str) -> str:
    """End a citation element with exactly one full stop."""
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else text + "."


def _page(item: Citable) -> list[str]:
    """The page of a PDF the quote stands on, as a citation element.

    >>> _page(Citable("q", "x", None, "T", (), None, None, "u", "a", None, "p", page=3))
    ['p. 3.']
    """
    return [f"p. {item.page}."] if item.page else []


def apa(item: Citable) -> str:
    """APA 7th edition, web page: the site name unless it is the author, then the
    retrieval date and original URL (the archive retrieved it then), and the archived copy."""
    names = [f"{family}, {_initials(given)}" if given else family for family, given in _names(item)]
    when = (
        f"{item.published.year}, {item.published:%B} {item.published.day}"
        if item.published
        else "n.d."
    )
    parts = [_sentence(_join(names, ", & ")), f"({when})."] if names else []
    parts.append(_sentence(_title(item)))
    if not names:
        parts.append(f"({when}).")
    if item.publisher and item.authors:
        parts.append(_sentence(item.publisher))
    parts.extend(_page(item))
    parts.append(
        f"Retrieved {_long_date(item.captured)}, from {item.url} (archived at {item.archived_url})"
    )
    return " ".join(parts)


def _mla_authors(item: Citable) -> str:
    first_family, first_given = _split_name(item.authors[0], item.publisher)
    first = f"{first_family}, {first_given}" if first_given else first_family
    if len(item.authors) == 1:
        return first
    if len(item.authors) == 2:
        return f"{first}, and {item.authors[1]}"
    return f"{first}, et al"


def mla(item: Citable) -> str:
    """MLA 9th edition, web page with an archived copy. A page whose only author is its
    publisher (a press release) starts with its title: MLA names the organisation once."""
    publisher = (item.publisher or "").casefold()
    by_publisher = not item.authors or [a.casefold() for a in item.authors] == [publisher]
    parts = [] if by_publisher else [_sentence(_mla_authors(item))]
    parts.append(f'"{_sentence(title_case(_title(item)))}"')
    container = [item.publisher] if item.publisher else []
    if item.published:
        container.append(_mla_date(item.published))
    container.append(item.url)
    parts.append(_sentence(", ".join(container)))
    parts.extend(_page(item))
    parts.append(f"Archived by onrecord, {_mla_date(item.captured)}, {item.archived_url}.")
    return " ".join(parts)


def chicago(item: Citable) -> str:
    """Chicago 17th edition, bibliography entry for a web page."""
    parts = []
    names = _names(item)
    if names:
        family, given = names[0]
        shown = [f"{family}, {given}" if given else family, *_creators(item)[1:]]
        parts.append(_sentence(_join(shown, ", and ")))
    container = [f'"{_sentence(title_case(_title(item)))}"']
    tail = [item.publisher] if item.publisher else []
    if item.published:
        tail.append(_long_date(item.published))
    if tail:
        container.append(_sentence(", ".join(tail)))
    parts.append(" ".join(container))
    parts.append(_sentence(item.url))
    parts.extend(_page(item))
    parts.append(f"Archived {_long_date(item.captured)}. {item.archived_url}.")
    return " ".join(parts)


# How each character LaTeX would read as markup is written to stay literal. Braces become
# commands, not \{ and \}: BibTeX and biber count a brace whether or not a backslash stands
# before it, so one stray brace in a hostile headline would end its field early (and the
# text after it could forge fields). "\\" is a line break in LaTeX, not a backslash.
_BIBTEX_LITERALS = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
}
# Control characters are dropped: LaTeX stops at most of them.
_CONTROL_CHARACTERS = dict.fromkeys(map(chr, [*range(0x20), *range(0x7F, 0xA0)]))
_BIBTEX_TEXT = str.maketrans(_BIBTEX_LITERALS | _CONTROL_CHARACTERS)


def _bibtex_escape(text: str) -> str:
    """Text as a BibTeX field value that reads back as written: every brace in it balanced,
    on one line (a blank line inside a field is a new paragraph, which LaTeX refuses there).

    >>> print(_bibtex_escape("50% of {x} & y_1 #2 $3"))
    50\\% of \\textbraceleft{}x\\textbraceright{} \\& y\\_1 \\#2 \\$3
    >>> print(_bibtex_escape("Memo says :-} to\\n\\nvoters"))
    Memo says :-\\textbraceright{} to voters
    """
    return " ".join(text.split()).translate(_BIBTEX_TEXT)


# What a ``url`` field cannot hold as it is: braces (BibTeX counts them), whitespace,
# backslashes and control characters, and a "%" that starts no percent-escape. A valid
# escape such as "%20" is kept: encoding its "%" again would change the address.
_URL_UNSAFE = re.compile(r"[{}\\\s\x00-\x1f\x7f]|%(?![0-9A-Fa-f]{2})")


def _bibtex_url(url: str) -> str:
    """A URL percent-encoded where BibTeX or LaTeX would read it as markup; the field is
    verbatim, so the other escapes would be taken as part of the address.

    >>> print(_bibtex_url("https://x.example/a{b}%zz c?q=%20"))
    https://x.example/a%7Bb%7D%25zz%20c?q=%20
    """
    return _URL_UNSAFE.sub(_percent_encoded, url)


def _percent_encoded(match: re.Match) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode())


def _bibtex_key(item: Citable) -> str:
    """Author, year and title word, as people type them, then the quote id's first digits:
    every quote's entry has its own key, even two documents of one author, year and word."""
    names = _names(item)
    who = names[0][0].split()[0] if names and not names[0][1] else (names or [("onrecord",)])[0][0]
    year = str(item.published.year) if item.published else "nd"
    words = re.findall(r"[A-Za-z]{3,}", _ascii(_title(item)))
    stem = re.sub(r"[^a-z0-9]", "", _ascii(who).lower()) + year
    return stem + (words[0].lower() if words else "") + "-" + item.quote_id.removeprefix("q-")[:8]


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def bibtex(item: Citable) -> str:
    """A BibLaTeX ``@online`` entry."""
    fields = [("author", " and ".join(_bibtex_name(*name) for name in _bibtex_names(item)))]
    fields.append(("title", _title(item)))
    if item.publisher:
        fields.append(("organization", item.publisher))
    if item.published:
        fields.append(("date", item.published.date().isoformat()))
    if item.page:
        fields.append(("pages", str(item.page)))
    fields.append(("url", _bibtex_url(item.url)))
    fields.append(("urldate", item.captured.date().isoformat()))
    said = f"Quoting {item.speaker}: " if item.speaker else "Quoted: "
    fields.append(("note", f"{said}``{item.quote}''. Archived copy: {item.archived_url}"))
    body = "".join(
        f"  {name} = {{{value if name in ('url', 'author') else _bibtex_escape(value)}}},\n"
        for name, value in fields
    )
    return f"@online{{{_bibtex_key(item)},\n{body}}}"


def _bibtex_names(item: Citable) -> list[tuple[str, str]]:
    """Every ``@online`` entry has an author: the page's, its publisher, or its site."""
    return _names(item) or [(urlsplit(item.url).hostname or item.url, "")]


def _bibtex_name(family: str, given: str) -> str:
    """A person as "Family, Given"; an organisation double-braced, so BibTeX takes the
    whole name as one family name and never abbreviates or splits it."""
    if given:
        return f"{_bibtex_name_part(family)}, {_bibtex_name_part(given)}"
    return f"{{{_bibtex_escape(family)}}}"


# BibTeX splits an author list at the word "and" in any case, so a person named with it
# ("Tom AND Jerry Smith") would be cited as two people; braced, the word stays in the name.
_AND = re.compile(r"\band\b", re.IGNORECASE)


def _bibtex_name_part(text: str) -> str:
    """A part of a person's name, escaped, with any word "and" kept inside it.

    >>> _bibtex_name_part("Tom AND Jerry")
    'Tom {AND} Jerry'
    """
    return _AND.sub(r"{\g<0>}", _bibtex_escape(text))


def _date_parts(moment: datetime) -> dict:
    return {"date-parts": [[moment.year, moment.month, moment.day]]}


def csl_json(item: Citable) -> dict:
    """A CSL-JSON item (the format Zotero and pandoc read)."""
    record: dict = {
        "id": item.quote_id,
        "type": "webpage",
        "title": _title(item),
        "URL": item.url,
        "accessed": _date_parts(item.captured),
        "archive": "onrecord",
        "archive_location": item.archived_url,
        "note": (f"Quoting {item.speaker}: " if item.speaker else "") + f"“{item.quote}”",
    }
    names = _names(item)
    if names:
        record["author"] = [
            {"family": family, "given": given} if given else {"literal": family}
            for family, given in names
        ]
    if item.publisher:
        record["container-title"] = item.publisher
    if item.published:
        record["issued"] = _date_parts(item.published)
    if item.page:
        record["page"] = str(item.page)
    return record


STYLES = (("apa", "APA"), ("mla", "MLA"), ("chicago", "Chicago"), ("bibtex", "BibTeX"))
