"""Ready-made citations of a quote: pure functions from a :class:`Citable` to text.

A quote is cited through the document that published it, and the archived copy is named
so a reader can check the words even after the original page changed or vanished.

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
Gazette. Archived November 3, 2026, from https://onrecord.example/20261103101500/\
https://gazette.example/results
>>> print(mla(item))
Lopez, Maria, and Sam O'Neil. "County certifies its results." The Harbour Gazette, 3 Nov. \
2026, https://gazette.example/results. Archived by onrecord, 3 Nov. 2026, \
https://onrecord.example/20261103101500/https://gazette.example/results.
>>> print(chicago(item))
Lopez, Maria, and Sam O'Neil. "County certifies its results." The Harbour Gazette, November \
3, 2026. https://gazette.example/results. Archived November 3, 2026. \
https://onrecord.example/20261103101500/https://gazette.example/results.
>>> print(bibtex(item))
@online{lopez2026county,
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
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

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


def _split_name(name: str) -> tuple[str, str]:
    """(family, given) of a personal name; an organisation's name is all family.

    >>> _split_name("Maria Cruz")
    ('Cruz', 'Maria')
    >>> _split_name("Reuters")
    ('Reuters', '')
    >>> _split_name("Office of the County Clerk")
    ('Office of the County Clerk', '')
    """
    parts = name.split()
    if len(parts) < 2 or len(parts) > 4 or _CONNECTIVES.intersection(parts):
        return " ".join(parts), ""
    return parts[-1], " ".join(parts[:-1])


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
    """APA 7th edition, web page."""
    if item.authors:
        names = []
        for author in item.authors:
            family, given = _split_name(author)
            names.append(f"{family}, {_initials(given)}" if given else family)
        who = _join(names, ", & ")
    else:
        who = item.publisher or _title(item)
    when = (
        f"{item.published.year}, {item.published:%B} {item.published.day}"
        if item.published
        else "n.d."
    )
    parts = [_sentence(who), f"({when}).", _sentence(_title(item))]
    if item.publisher and item.authors:
        parts.append(_sentence(item.publisher))
    parts.extend(_page(item))
    parts.append(f"Archived {_long_date(item.captured)}, from {item.archived_url}")
    return " ".join(parts)


def _mla_authors(authors: tuple[str, ...]) -> str:
    first_family, first_given = _split_name(authors[0])
    first = f"{first_family}, {first_given}" if first_given else first_family
    if len(authors) == 1:
        return first
    if len(authors) == 2:
        return f"{first}, and {authors[1]}"
    return f"{first}, et al"


def mla(item: Citable) -> str:
    """MLA 9th edition, web page with an archived copy."""
    parts = [_sentence(_mla_authors(item.authors))] if item.authors else []
    parts.append(f'"{_sentence(_title(item))}"')
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
    if item.authors:
        family, given = _split_name(item.authors[0])
        names = [f"{family}, {given}" if given else family, *item.authors[1:]]
        parts.append(_sentence(_join(names, ", and ")))
    container = [f'"{_sentence(_title(item))}"']
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


def _bibtex_escape(text: str) -> str:
    """Keep BibTeX's special characters literal.

    >>> _bibtex_escape("50% of {x} & y_1 #2 $3")
    '50\\\\% of \\\\{x\\\\} \\\\& y\\\\_1 \\\\#2 \\\\$3'
    """
    return re.sub(r"([\\{}%&$#_])", r"\\\1", text)


def _bibtex_key(item: Citable) -> str:
    who = _split_name(item.authors[0])[0] if item.authors else (item.publisher or "onrecord")
    year = str(item.published.year) if item.published else "nd"
    words = re.findall(r"[A-Za-z]{3,}", _ascii(_title(item)))
    return (
        re.sub(r"[^a-z0-9]", "", _ascii(who).lower()) + year + (words[0].lower() if words else "")
    )


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def bibtex(item: Citable) -> str:
    """A BibLaTeX ``@online`` entry."""
    fields = []
    if item.authors:
        fields.append(("author", " and ".join(_reversed(a) for a in item.authors)))
    fields.append(("title", _title(item)))
    if item.publisher:
        fields.append(("organization", item.publisher))
    if item.published:
        fields.append(("date", item.published.date().isoformat()))
    if item.page:
        fields.append(("pages", str(item.page)))
    fields.append(("url", item.url))
    fields.append(("urldate", item.captured.date().isoformat()))
    said = f"Quoting {item.speaker}: " if item.speaker else "Quoted: "
    fields.append(("note", f"{said}``{item.quote}''. Archived copy: {item.archived_url}"))
    body = "".join(
        f"  {name} = {{{value if name in ('url',) else _bibtex_escape(value)}}},\n"
        for name, value in fields
    )
    return f"@online{{{_bibtex_key(item)},\n{body}}}"


def _reversed(name: str) -> str:
    family, given = _split_name(name)
    return f"{family}, {given}" if given else family


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
    if item.authors:
        record["author"] = [
            {"family": family, "given": given} if given else {"literal": family}
            for family, given in (_split_name(a) for a in item.authors)
        ]
    if item.publisher:
        record["container-title"] = item.publisher
    if item.published:
        record["issued"] = _date_parts(item.published)
    if item.page:
        record["page"] = str(item.page)
    return record


STYLES = (("apa", "APA"), ("mla", "MLA"), ("chicago", "Chicago"), ("bibtex", "BibTeX"))
