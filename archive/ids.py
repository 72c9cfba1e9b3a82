"""Content-derived identifiers.

Every identifier onrecord issues is a short hash of canonical inputs, so that the same
inputs give the same id on any machine, after any rebuild: a link that cites an id keeps
working after re-extraction, reindexing, migration or a move of the archive.

    >>> canonical_url("HTTP://Example.COM:80/a/../b/?utm_source=x&b=2&a=1#top")
    'http://example.com/b/?a=1&b=2'
    >>> doc_id("http://example.com/b/?a=1&b=2")
    'd-74e758034f2807bd'
    >>> ts14(datetime(2026, 11, 3, 14, 5, 9, tzinfo=UTC))
    '20261103140509'
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import unicodedata
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = [
    "canonical_url",
    "capture_id",
    "doc_id",
    "extraction_id",
    "is_number",
    "memento_ts",
    "normalize_quote_text",
    "parse_timestamp",
    "parse_ts14",
    "quote_id",
    "speaker_id",
    "ts14",
    "version_id",
]

# Query parameters that only track the reader, never select the content.
_TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|_ga|cmpid|smid|sh)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


class InvalidURL(ValueError):
    """A URL that onrecord cannot archive (no http(s) scheme or no host)."""


def _hash(*parts: str, length: int = 16) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


def canonical_url(url: str) -> str:
    """Return the canonical form of an http(s) URL, the key a document is filed under.

    Lower-cases scheme and host, drops default ports, fragments and tracking parameters,
    resolves dot segments, sorts the query and normalises percent-encoding.

    >>> canonical_url("https://www.Example.org")
    'https://www.example.org/'
    >>> canonical_url("https://example.org/caf%c3%a9?fbclid=1")
    'https://example.org/caf%C3%A9'
    >>> canonical_url("ftp://example.org/")
    Traceback (most recent call last):
    ...
    archive.ids.InvalidURL: not an http(s) URL: 'ftp://example.org/'
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"malformed URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidURL(f"not an http(s) URL: {url!r}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidURL(f"URL has no host: {url!r}")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host.lower()
    except UnicodeError:
        raise InvalidURL(f"URL has an invalid host: {url!r}") from None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = parts.path or "/"
    trailing = path.endswith("/")
    path = posixpath.normpath(path)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    if trailing and path != "/":
        path += "/"
    path = quote(unquote(path), safe=_PATH_SAFE.replace("%", ""))
    query_pairs = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _TRACKING_PARAMS.match(k)
    ]
    query = urlencode(sorted(query_pairs), doseq=True)
    return urlunsplit((scheme, netloc, path, query, ""))


def doc_id(canonical: str) -> str:
    """The id of the document filed under a canonical URL.

    >>> doc_id(canonical_url("https://example.org/news/1"))
    'd-12c21f980eea6482'
    """
    return "d-" + _hash("document", canonical)


def capture_id(url: str, captured_at: datetime, payload_digest: str) -> str:
    """The id of one capture: what was received from where, and when.

    Derived from what the WARC record itself holds (target URI, WARC-Date to the
    microsecond, payload digest), so a catalog rebuilt from the WARC files gives every
    capture its old id.

    >>> capture_id("https://example.org/", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    ...            "sha256:ab")
    'c-01811e64661168d1'
    """
    moment = captured_at.astimezone(UTC)
    stamp = ts14(moment) + (f".{moment.microsecond:06d}" if moment.microsecond else "")
    return "c-" + _hash("capture", url, stamp, payload_digest)


def version_id(document: str, first_capture: str) -> str:
    """The id of a version of a document, named after the capture that first showed it.

    >>> version_id("d-4cfd3b3b3f75bfb9", "c-8e4ba8c0e8d52d95")
    'v-316b18b478b3f496'
    """
    return "v-" + _hash("version", document, first_capture)


def extraction_id(version: str, extractor: str) -> str:
    """The id of one extraction of a version by one extractor release.

    >>> extraction_id("v-2e0b3b1c8c9c53d9", "onrecord-extract/1")
    'x-d2719d9bf8306f0c'
    """
    return "x-" + _hash("extraction", version, extractor)


def normalize_quote_text(text: str) -> str:
    """Fold a quote to the form its id is derived from.

    Typographic variants (curly quotes, dashes, non-breaking spaces, case, accents) and
    the punctuation at its edges do not make a different quote.

    >>> normalize_quote_text("  “We’re  ready —  Café,” ")
    "we're ready - cafe"
    """
    if not text.isascii():  # ASCII has no accents or typographic variants to fold
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        text = text.translate(_TYPOGRAPHIC)
    text = re.sub(r"\s+", " ", text).strip().lower()
    return text.strip(" \"'.,;:!?")


_TYPOGRAPHIC = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
    }
)


def quote_id(document: str, text: str) -> str:
    """The id of a quote: the document it stands in and its normalised words.

    It does not depend on offsets, the version or the extractor, so it survives
    re-extraction, reindexing and migration.

    >>> quote_id("d-4cfd3b3b3f75bfb9", "“We are ready,”") == quote_id(
    ...     "d-4cfd3b3b3f75bfb9", '"we are ready"')
    True
    """
    return "q-" + _hash("quote", document, normalize_quote_text(text))


def speaker_id(name: str, document: str | None = None) -> str:
    """The id of a speaker. Anonymous speakers are scoped to one document. Names that
    differ only in spacing, case, the apostrophe an outlet types (’ or ') or the Unicode
    form of their letters (a PDF's decomposed "é") are one speaker.

    >>> speaker_id("Chris  Krebs") == speaker_id("chris krebs")
    True
    >>> speaker_id("Conor O’Brien") == speaker_id("Conor O'Brien")
    True
    >>> speaker_id("Jose\u0301 Pen\u0303a") == speaker_id("José Peña")
    True
    >>> speaker_id("a senior official", "d-1") == speaker_id("a senior official", "d-2")
    False
    """
    if not name.isascii():  # (migration 0012 merged the speakers filed before this fold)
        name = unicodedata.normalize("NFC", name).translate(_APOSTROPHES)
    key = re.sub(r"\s+", " ", name).strip().lower()
    return "s-" + _hash("speaker", key, document or "")


_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc\u2032", "'"))


def ts14(moment: datetime) -> str:
    """A UTC moment as the 14-digit timestamp of Wayback URLs.

    >>> ts14(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    '20261103090000'
    """
    if moment.tzinfo is None:
        raise ValueError("ts14 needs a timezone-aware datetime")
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def memento_ts(moment: datetime) -> str:
    """The timestamp of a capture's Wayback URL: 14 digits, and 3 more (milliseconds) when
    the moment has a fraction of a second, so that two captures of one URL in one second
    each have a URL of their own. pywb and the Wayback Machine read 15-17 digits too.

    >>> memento_ts(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    '20261103090000'
    >>> memento_ts(datetime(2026, 11, 3, 9, 0, 0, 250999, tzinfo=UTC))
    '20261103090000250'
    """
    stamp = ts14(moment)
    return f"{stamp}{moment.microsecond // 1000:03d}" if moment.microsecond else stamp


def parse_timestamp(value: str) -> datetime:
    """Parse a 4- to 17-digit Wayback timestamp: :func:`parse_ts14`, and after the 14th
    digit, fractions of a second.

    >>> parse_timestamp("20261103090000250")
    datetime.datetime(2026, 11, 3, 9, 0, 0, 250000, tzinfo=datetime.timezone.utc)
    >>> parse_timestamp("202611030900005")
    datetime.datetime(2026, 11, 3, 9, 0, 0, 500000, tzinfo=datetime.timezone.utc)
    """
    if len(value) <= 14 or not is_number(value) or len(value) > 17:
        return parse_ts14(value)
    whole, fraction = value[:14], value[14:]
    return parse_ts14(whole).replace(microsecond=int(fraction.ljust(6, "0")))


def is_number(text: str) -> bool:
    """Whether text is a whole number written in ASCII digits, as every number in a
    header, a timestamp or a request parameter is: '²' and '٣' are digits to
    ``str.isdigit``, but no number to ``int`` or ``strptime`` (or another number).

    >>> is_number("12"), is_number("²"), is_number("٣"), is_number("-1"), is_number("")
    (True, False, False, False, False)
    """
    return text.isascii() and text.isdigit()


def parse_ts14(value: str) -> datetime:
    """Parse a 1- to 14-digit Wayback timestamp; missing digits take their lowest value.

    >>> parse_ts14("2026110314")
    datetime.datetime(2026, 11, 3, 14, 0, tzinfo=datetime.timezone.utc)
    >>> parse_ts14("20261399")
    Traceback (most recent call last):
    ...
    ValueError: timestamp out of range: '20261399'
    """
    if not is_number(value) or not 4 <= len(value) <= 14 or len(value) % 2:
        raise ValueError(f"not a Wayback timestamp: {value!r}")
    padded = value + "0101000000"[len(value) - 4 :]
    try:
        return datetime.strptime(padded, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"timestamp out of range: {value!r}") from None
