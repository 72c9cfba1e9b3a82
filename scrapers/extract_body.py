"""Find an HTML page's article body: trafilatura's choice, repaired against the page itself.

trafilatura, tuned for precision, is good at finding *where* the article is and at leaving
boilerplate out, but it drops parts of the article it is unsure about (subheadings, list
items, embedded posts, quotes) and it may keep text the browser never shows (hover cards,
screen-reader labels) or the page title. So its paragraphs are used as an anchor: the
page's own text blocks are walked in document order, those trafilatura kept are located,
and every block between the first and the last of them is judged again with the page's
structure in view. When the anchor cannot be located in the page, trafilatura's paragraphs
are used as they are.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.xml import xmltotxt

log = logging.getLogger(__name__)

# Elements that start a new block of text; everything else flows inline.
_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "center",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "html",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "ul",
    ]
)
_CELLS = frozenset(("td", "th"))  # a table row is one block, its cells separated by spaces
_HEADINGS = frozenset(["h1", "h2", "h3", "h4", "h5", "h6"])
_PROSE = frozenset(["p", "blockquote", "pre", "h2", "h3", "h4", "h5", "h6"])
_CODE_TAGS = frozenset(["script", "style", "template", "svg", "math"])
# Elements whose text is never part of an article body.
_SKIP_TAGS = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "math",
        "iframe",
        "object",
        "embed",
        "canvas",
        "video",
        "audio",
        "button",
        "select",
        "option",
        "textarea",
        "input",
        "label",
        "figcaption",
        "nav",
        "aside",
        "footer",
        "header",
    ]
)
# Class names that hide an element (CSS frameworks) or mark a pop-up shown only on hover.
_HIDDEN_CLASSES = frozenset(
    [
        "hidden",
        "hide",
        "d-none",
        "invisible",
        "sr-only",
        "visually-hidden",
        "visuallyhidden",
        "screen-reader-text",
        "screenreader-only",
    ]
)
# Pop-ups shown only on hover, and captions or credits of pictures: never article text.
_ASIDE_CLASS = re.compile(r"rollover|tooltip|popover|hovercard|caption|credit", re.IGNORECASE)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# class/id words of containers that hold page furniture rather than the article.
_FURNITURE = re.compile(
    r"share|social|related|newsletter|promo|advert|sponsor|comment|subscri|signup|byline|"
    r"author|caption|credit|breadcrumb|sidebar|recommend|read-?more|outbrain|taboola|"
    r"toolbar|widget|popular|trending|timestamp|dateline|\bads?\b|\bad-|-ad\b",
    re.IGNORECASE,
)
# Whole-block texts that are page furniture wherever they stand.
_FURNITURE_TEXT = re.compile(
    r"^(advertisement|advert|sponsored|ad|share( this( article| story)?)?|(read|see) more|"
    r"continue reading|story continues below|click here|related( articles?| stories)?|"
    r"don'?t miss|recommended|most popular|trending now)\W*$",
    re.IGNORECASE,
)
_NON_WORD = re.compile(r"\W+")
_SPACES = re.compile(r"[^\S\n]+")
_SOURCE_SPACE = re.compile(r"\s+")
_MIN_ANCHOR = 12  # shortest block key located by substring search in the anchor text
_STRONG = 60  # a block this long, once located, can open or close the article's span
_CHUNK = 24  # long blocks are located piecewise, in case the anchor text differs a little
_GAP = 6  # located blocks at most this many blocks from the span's ends extend it
_MIN_COVERAGE = 0.8  # share of the anchor text that must be located in the page
_MAX_LINK_SHARE = 0.5  # above this share of link text a recovered block is navigation


@dataclass
class Block:
    """A run of text that belongs to one block element, in document order."""

    element: HtmlElement
    tag: str
    parts: list[str] = field(default_factory=list)
    link_chars: int = 0
    quoted: bool = False  # inside a <blockquote>: an embedded post or a quotation

    @property
    def text(self) -> str:
        lines = (_SPACES.sub(" ", line).strip() for line in "".join(self.parts).split("\n"))
        return "\n".join(line for line in lines if line)

    @property
    def key(self) -> str:
        return key_of(self.text)


def key_of(text: str) -> str:
    """Text reduced to its word characters, so that spacing and punctuation never matter."""
    return _NON_WORD.sub("", text).casefold()


def _hidden(element: HtmlElement) -> bool:
    if element.tag in _SKIP_TAGS or element.get("hidden") is not None:
        return True
    if element.get("aria-hidden") == "true":
        return True
    classes = element.get("class")
    if classes and (_HIDDEN_CLASSES.intersection(classes.split()) or _ASIDE_CLASS.search(classes)):
        return True
    style = element.get("style")
    return bool(style and _HIDDEN_STYLE.search(style))


def text_blocks(root: HtmlElement, hidden: list[str] | None = None) -> list[Block]:
    """Every visible run of text under ``root``, split at block elements, in document order.

    The text of skipped elements that may hold words (not scripts or styles) is added to
    ``hidden``, when given, as keys.
    """
    blocks: list[Block] = []
    stack: list[Block] = []  # the open run of each open block element
    links = quotes = 0
    skipped = False  # the next event is the "end" of an element whose subtree was skipped
    walk = etree.iterwalk(root, events=("start", "end"))
    for event, element in walk:
        tag = element.tag
        if not isinstance(tag, str):
            continue
        if event == "start":
            if _hidden(element):
                walk.skip_subtree()
                skipped = True
                if hidden is not None and tag not in _CODE_TAGS:
                    hidden.append(key_of(element.text_content()))
                continue
            if tag in _BLOCK_TAGS:
                if stack:
                    blocks.append(stack[-1])
                    stack[-1] = Block(stack[-1].element, stack[-1].tag, quoted=quotes > 0)
                quotes += tag == "blockquote"
                stack.append(Block(element, tag, quoted=quotes > 0))
            elif tag == "a":
                links += 1
            elif tag == "br" and stack:
                stack[-1].parts.append("\n")
            elif tag in _CELLS and stack:
                stack[-1].parts.append(" ")
            if element.text and stack:
                _add(stack[-1], element.text, links)
            continue
        if skipped:
            skipped = False
        else:
            if tag in _BLOCK_TAGS and stack:
                blocks.append(stack.pop())
                quotes -= tag == "blockquote"
            elif tag == "a":
                links -= 1
        if element.tail and stack:
            _add(stack[-1], element.tail, links)
    blocks.extend(reversed(stack))
    return [block for block in blocks if block.key]


def _add(block: Block, text: str, links: int) -> None:
    # A line break in the HTML source is only white space; <br> adds the real ones.
    block.parts.append(_SOURCE_SPACE.sub(" ", text))
    if links:
        block.link_chars += len(text.strip())


def anchor(tree: HtmlElement, url: str | None) -> list[tuple[str, str]]:
    """trafilatura's article paragraphs as (HTML tag, text), tuned for precision."""
    document = trafilatura.bare_extraction(
        tree, url=url, favor_precision=True, include_comments=False, with_metadata=False
    )
    if document is None or document.body is None:
        return []
    paragraphs = []
    for element in document.body:
        text = xmltotxt(element, include_formatting=False)
        lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            tag = element.get("rend", "h2") if element.tag == "head" else element.tag
            paragraphs.append((tag, paragraph))
    return paragraphs


def article_paragraphs(tree: HtmlElement, url: str | None, title: str | None) -> list[str]:
    """The article body of a parsed page as paragraphs; empty when none was found."""
    body = tree.find("body")
    hidden: list[str] = []
    blocks = text_blocks(body if body is not None else tree, hidden)
    anchored = anchor(tree, url)
    if not anchored:
        return _short_page(blocks, title)
    target = "".join(key_of(paragraph) for _, paragraph in anchored)
    keys = {key_of(paragraph) for _, paragraph in anchored}
    matched = [i for i, block in enumerate(blocks) if _located(block.key, keys, target)]
    strong = [i for i in matched if len(blocks[i].key) >= _STRONG]
    located = sum(len(blocks[i].key) for i in matched)
    shown = len(target) - sum(len(key) for key in hidden if key and key in target)
    if not strong or located < _MIN_COVERAGE * shown:
        log.debug("anchor located for %d of %d characters: kept as is", located, shown)
        return _without_title([text for _, text in anchored], [tag for tag, _ in anchored], title)
    first, last = _span(matched, strong[0], strong[-1])
    container = _common_ancestor(blocks[first].element, blocks[last].element)
    chosen = set(matched)
    kept = [
        block
        for i, block in enumerate(blocks[first : last + 1], start=first)
        if _keep(block, i in chosen, container)
    ]
    return _without_title([block.text for block in kept], [block.tag for block in kept], title)


def _short_page(blocks: list[Block], title: str | None) -> list[str]:
    """The prose of a page too short for trafilatura: its unlinked paragraphs and quotes."""
    kept = [
        block
        for block in blocks
        if block.tag in _PROSE
        and block.link_chars <= _MAX_LINK_SHARE * len(block.text)
        and not _FURNITURE_TEXT.match(block.text)
    ]
    return _without_title([block.text for block in kept], [block.tag for block in kept], title)


def _span(matched: list[int], first: int, last: int) -> tuple[int, int]:
    """Widen [first, last] to located blocks that stand near it: short lead and end paragraphs."""
    for i in reversed(matched):
        if i < first and first - i <= _GAP:
            first = i
    for i in matched:
        if i > last and i - last <= _GAP:
            last = i
    return first, last


def _located(key: str, keys: set[str], target: str) -> bool:
    """Whether a block's text is among the anchor paragraphs, exactly or nearly."""
    if key in keys:
        return True
    if len(key) < _MIN_ANCHOR:
        return False
    if key in target:
        return True
    if len(key) < 2 * _CHUNK:
        return False
    chunks = [key[i : i + _CHUNK] for i in range(0, len(key) - _CHUNK + 1, _CHUNK)]
    return sum(chunk in target for chunk in chunks) * 2 >= len(chunks)


def _keep(block: Block, anchored: bool, container: HtmlElement) -> bool:
    if _FURNITURE_TEXT.match(block.text):
        return False
    linked = block.link_chars > _MAX_LINK_SHARE * len(block.text)
    if block.tag in _HEADINGS and linked:
        return False  # a teaser for another article
    if anchored:
        return True
    if block.quoted:
        return True
    return not linked and not _in_furniture(block.element, container)


def _in_furniture(element: HtmlElement, container: HtmlElement) -> bool:
    while element is not None and element is not container:
        names = f"{element.get('class', '')} {element.get('id', '')}"
        if _FURNITURE.search(names):
            return True
        element = element.getparent()
    return False


def _common_ancestor(first: HtmlElement, last: HtmlElement) -> HtmlElement:
    ancestors = set(first.iterancestors())
    ancestors.add(first)
    for element in (last, *last.iterancestors()):
        if element in ancestors:
            return element
    return first.getroottree().getroot()


def _without_title(texts: list[str], tags: list[str], title: str | None) -> list[str]:
    """Drop headings ahead of the first paragraph that repeat the title or are the <h1>.

    A page of headings alone (a section front) has no article, and gives no paragraphs.
    """
    title_key = key_of(title or "")
    start = 0
    while start < len(texts) and tags[start] in _HEADINGS:
        key = key_of(texts[start])
        if not (tags[start] == "h1" or (title_key and key and key in title_key)):
            break
        start += 1
    texts, tags = texts[start:], tags[start:]
    return texts if any(tag not in _HEADINGS for tag in tags) else []
