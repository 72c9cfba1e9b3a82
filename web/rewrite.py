"""Links in an archived HTML page, rewritten so that a reader's click stays in the archive.

The archived copy is served sandboxed (no scripts, no forms, its own opaque origin), but a
plain link still navigates: to the live web, which tells the site who reads its archived
pages, or, for a relative link or a ``target=_top``, to the app's own pages as if the
archive had sent the reader there. So when a browser navigates to an archived copy, every
link and image map area points at the archived copy of its target as of the same capture
time (``/<timestamp>id_/<url>``), in the same frame; a target onrecord never captured gets
a page that says so and names the live URL. ``<base>``, ``<meta http-equiv=refresh>``,
``ping`` and ``attributionsrc`` go: they would navigate or reach out without a click on a
rewritten link; so do SVG animations (``<set>``, ``<animate>``) that would give a link a
new target once the page is shown.

An archived page is hostile, so it is read as the reader's browser reads it: parsed by the
HTML Standard's algorithm (Lexbor, through selectolax), with scripting off as in the
archive's sandbox, including the content of every ``<template>`` (a declarative shadow
root is live). A parser that reads it otherwise misses links the browser sees: libxml2,
for one, takes ``<svg><style><p><a href=...>`` for a stylesheet, where a browser closes
the ``<svg>`` at the ``<p>`` and shows a live link. The rewritten page is then parsed
again, as the reader's browser will parse it (with scripting off, and on), and it goes out
only if every link there is one the rewriter wrote; if not, or if the page cannot be
parsed, the reader gets its markup as text. The page as received never reaches a browser
from here.

Only browser navigations get this; every other client (pywb, Memento tools, ``curl``)
gets the bytes exactly as received.

>>> page = b'<p><a href="/next" target="_top" ping="https://t.example/">next</a></p>'
>>> out = rewrite_links(page, None, "https://example.gov/a/b", lambda url: "/arch/" + url)
>>> print(out.decode())
<html><head></head><body><p><a href="/arch/https://example.gov/next" target="_self">next</a>\
</p></body></html>
>>> page = (b'<!DOCTYPE html><head><base href="https://cdn.example/x/">'
...         b'<meta http-equiv="refresh" content="0;url=https://live.example/"></head>'
...         b'<a href="y">y</a> <a href="javascript:go()">go</a> <a href="#top">top</a>')
>>> print(rewrite_links(page, None, "https://example.gov/", lambda url: "/arch/" + url).decode())
<!DOCTYPE html><html><head></head><body><a href="/arch/https://cdn.example/x/y" \
target="_self">y</a> <a href="#" target="_self">go</a> <a href="#top" target="_self">top</a>\
</body></html>
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from scrapers.http import decode_text

__all__ = ["is_navigation", "rewrite_links"]

log = logging.getLogger(__name__)

_HARMLESS_SCHEMES = ("mailto", "tel")  # handled by the reader's own applications
_REACHING_OUT = ("ping", "attributionsrc")  # requests a click would send on its own
_ANIMATIONS = ("set", "animate")  # SVG elements that give another attribute a new value
# The page's own doctype, after any comments (an XML declaration is one to a browser),
# which the HTML serialisation would shorten to <!DOCTYPE html>: a legacy doctype keeps
# the page in the quirks mode it was made for. A doctype token ends at its first ">"; a
# comment at its first "-->" or "--!>" (atomic: no backtracking to a later one).
_DOCTYPE = re.compile(
    r"(?>[\t\n\f\r ]|<!--(?:-?>|.*?--!?>)|<\?[^>]*>)*+(<!doctype[^>]*>)", re.I | re.S
)

_NOSCRIPT = re.compile("<noscript", re.I)
# Lexbor's parse time grows with the square of how deep elements nest (20,000 nested
# <div>s take 0.7 s, 200,000 take 140 s), where a browser stops nesting at a few hundred
# (Chromium at 512). A page whose tags may nest deeper than eight times that is shown as
# text, counted cheaply: a start tag opens a level and an end tag closes one, except for
# elements that have no end tag or that the next of their kind closes (<br>, <p>, <li>).
_MAX_NESTING = 4096
_TAG = re.compile(r"<(/?)([A-Za-z][^\s/>]*)")
_UNNESTED = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
        "p",
        "li",
        "dt",
        "dd",
        "option",
        "tr",
        "td",
        "th",
    ]
)


class _LeftOpen(Exception):
    """A way out of the archive that the rewritten page would still offer a browser."""


def is_navigation(headers: Mapping[str, str]) -> bool:
    """Whether a request is a browser loading a page into a window or frame: Fetch
    Metadata says so, or, where a browser sends none (plain HTTP to a remote host), the
    ``Upgrade-Insecure-Requests`` header every browser sends with a navigation.

    >>> is_navigation({"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"})
    True
    >>> is_navigation({"Upgrade-Insecure-Requests": "1"})
    True
    >>> is_navigation({"Accept": "*/*"})
    False
    """
    mode = headers.get("Sec-Fetch-Mode")
    if mode is not None:
        return mode == "navigate"
    return headers.get("Upgrade-Insecure-Requests") == "1"


def rewrite_links(
    payload: bytes, charset: str | None, page_url: str, archived: Callable[[str], str]
) -> bytes:
    """The page with every link pointing at ``archived(absolute target URL)``, in UTF-8;
    or, where that cannot be made sure of, a page that shows its markup as text.

    >>> page = b'<svg><style><p><a href="https://live.example/">x</a></p></style></svg>'
    >>> print(rewrite_links(page, None, "https://example.gov/", lambda url: "/arch/" + url)
    ...       .decode())
    <html><head></head><body><svg><style></style></svg><p><a \
href="/arch/https://live.example/" target="_self">x</a></p></body></html>
    """
    text = decode_text(payload, charset).removeprefix("\ufeff")  # as a browser's decoder
    if not text.strip():
        return text.encode()  # nothing to parse; and not the bytes, whatever they are
    if len(text) > _MAX_NESTING * 3 and _nesting(text) > _MAX_NESTING:
        log.warning("archived page %s shown as text: its tags nest too deep", page_url)
        return _as_text(text)
    try:
        tree = LexborHTMLParser(text)
        written = _rewrite(tree, page_url, archived)
        page = _serialized(tree, text)
        _check(page, written)
    except (SelectolaxError, RuntimeError, _LeftOpen) as exc:  # RuntimeError: Lexbor's status
        log.warning("archived page %s shown as text, its links not rewritten: %s", page_url, exc)
        return _as_text(text)
    return page.encode("utf-8")


def _nesting(text: str) -> int:
    """How deep the page's tags may nest, at most (see _MAX_NESTING).

    >>> _nesting("<div><p>a<p>b<div><br></div></div>")
    2
    """
    depth = deepest = 0
    for match in _TAG.finditer(text):
        if match.group(2).lower() in _UNNESTED:
            continue
        if match.group(1):
            depth = max(depth - 1, 0)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def _rewrite(tree: LexborHTMLParser, page_url: str, archived: Callable[[str], str]) -> set[str]:
    """Rewrite the page in place; the values written to link attributes."""
    base = page_url
    first_base = tree.css_first("base[href]")  # the browser's: in the document, in order
    if first_base is not None:
        base = _joined(page_url, first_base.attributes["href"] or "") or page_url
    written: set[str] = set()
    dropped = []
    for element in _elements(tree.root):
        attributes = element.attributes
        if _drops(element.tag, attributes):
            dropped.append(element)
            continue
        for name, value in attributes.items():
            if name in _REACHING_OUT:
                del element.attrs[name]
            elif _is_link(name):
                element.attrs[name] = target = _rewritten(value or "", base, archived)
                written.add(target)
                if "target" in attributes or element.tag in ("a", "area"):
                    element.attrs["target"] = "_self"  # never _top, _parent or a new window
    for element in dropped:
        element.decompose()
    return written


def _check(page: str, written: set[str]) -> None:
    """Parse the rewritten page as the reader's browser will, with scripting off (the
    archive's sandbox) and on, and raise :class:`_LeftOpen` if it still has a way out.

    Only a serialisation that does not parse back to the tree it came from can fail this
    (the HTML Standard lists some), and a page with ``<noscript>`` built to read one way
    with scripting off and another with it on (the flag changes nothing else)."""
    for scripting in (False, True) if _NOSCRIPT.search(page) else (False,):
        for element in _elements(LexborHTMLParser(page, scripting=scripting).root):
            attributes = element.attributes
            if _drops(element.tag, attributes):
                raise _LeftOpen(f"a <{element.tag}> parsed back (scripting {scripting})")
            for name, value in attributes.items():
                if name in _REACHING_OUT or (_is_link(name) and value not in written):
                    raise _LeftOpen(f"{name}={value!r} parsed back (scripting {scripting})")


def _elements(node: LexborNode) -> Iterator[LexborNode]:
    """Every element under ``node`` in document order, then those in its templates'
    content (which a declarative shadow root shows)."""
    for element in node.traverse(include_text=False):
        if element.is_element_node:
            yield element
    for fragment in node.template_fragments():
        yield from _elements(fragment)


def _drops(tag: str, attributes: Mapping[str, str | None]) -> bool:
    """Whether an element goes: it would navigate, or redirect links, with no click on a
    rewritten link."""
    if tag == "base":
        return True
    if tag == "meta":
        return (attributes.get("http-equiv") or "").strip().lower() == "refresh"
    if tag in _ANIMATIONS:  # SVG's attributeName, "attributename" in HTML
        animated = {name.lower(): value for name, value in attributes.items()}
        name = (animated.get("attributename") or "").strip().lower()
        return _is_link(name) or name.endswith("target") or name in _REACHING_OUT
    return False


def _is_link(name: str) -> bool:
    return name == "href" or name.endswith(":href")  # xlink:href, and any prefix


def _joined(base: str, value: str) -> str | None:
    try:
        return urljoin(base, value.strip())
    except ValueError:  # for one, an unclosed [IPv6 address]
        return None


def _rewritten(value: str, base: str, archived: Callable[[str], str]) -> str:
    value = value.strip()
    if value.startswith("#"):
        return value  # a place in this same page
    target = _joined(base, value)
    if target is None:
        return "#"
    scheme = urlsplit(target).scheme.lower()
    if scheme in ("http", "https"):
        return archived(target)
    if scheme in _HARMLESS_SCHEMES:
        return target
    return "#"  # javascript:, data:, file: and the rest lead nowhere from an archive


def _serialized(tree: LexborHTMLParser, text: str) -> str:
    """The document by the HTML serialisation, with the page's own doctype."""
    parts = []
    node = tree.root.parent.child  # the document's first child
    while node is not None:
        if node.tag == "-doctype" and (declared := _DOCTYPE.match(text)):
            parts.append(declared.group(1))
        else:
            parts.append(node.html or "")
        node = node.next
    return "".join(parts)


def _as_text(text: str) -> bytes:
    """A page that shows ``text`` (an archived page's markup) and nothing it could do."""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        "<title>An archived page, as text</title></head><body>"
        "<p>onrecord could not make sure that every link on this archived page leads into "
        "the archive, so here is its markup, as text.</p>"
        f"<pre>{html.escape(text)}</pre></body></html>"
    ).encode()
