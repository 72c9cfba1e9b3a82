"""Find an HTML page's article body: trafilatura's choice, located in the page itself.

trafilatura, tuned for precision, is good at finding *where* the article is and at leaving
boilerplate out, but its text is its own rendering (spacing, soft hyphens) and it may keep
text the browser never shows (hover cards, screen-reader labels). So its paragraphs are an
anchor: the page's own visible text blocks are walked in document order, those trafilatura
kept are located, and the body is made of those blocks, as the page has them. What else
is taken back is a setting (:class:`Tuning`) chosen by measurement, because repairs that
looked right on the pages they were written for cost on pages never seen: blocks between
located ones that trafilatura dropped ("recover"), the blocks the page's JSON-LD
articleBody holds ("json_ld"), an opening paragraph just before the first located block
("lead"). ``bench/extraction.py`` cross-validates them and checks them on a second set.
Boilerplate that ends a press release ("###", "About ...", media contacts) is cut. When
the anchor cannot be located in the page, trafilatura's paragraphs are used as they are.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import cached_property

import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.xml import xmltotxt

from scrapers.metadata import for_trafilatura

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
    ]
)
# Page furniture by its tag, skipped unless it wraps most of the page (a header left open).
_FURNITURE_TAGS = frozenset(["nav", "aside", "footer", "header"])
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
# Where a press release's own text ends: its end mark, or the issuer's "About ..." section
# (a short heading-like line) and the contacts that follow it.
_END_MARK = re.compile(r"^\s*(#{3}|-\s*30\s*-|[-–—]*\s*ends?\s*[-–—]*|\*{3})\s*$", re.IGNORECASE)
_ABOUT = re.compile(
    r"^\s*(about|über|à propos d[eu']|acerca de|sobre|informazioni su|o)\s+\S[^.!?\n]{0,80}:?\s*$"
    r"|^\s*(media|press)\s+(contacts?|enquiries|inquiries)\b|^\s*pressekontakt\b",
    re.IGNORECASE,
)
# A link to another article set inside the text: "Read more: ...", in the languages of the
# sites onrecord archives, or the label alone.
_TEASER = re.compile(
    r"^\W*(read (more|also)|see also|also read|more on this|lea también|lee también|"
    r"(le|te) puede interesar|puedes ver|veja também|leia também|leia mais|"
    r"czytaj (też|także|również|więcej)|zobacz (też|także|również)|lesen sie auch|auch lesen|"
    r"mehr zum thema|mehr dazu|weitere themen|mehr themen|auch interessant|lire aussi|"
    r"à lire aussi|voir aussi|leggi anche)\s*(:|$)",
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
_HEADING_WORDS = 12
_SENTENCE_END = re.compile(r"[.!?…]['\"”’»«)]*\s*$")
_JSON_LD_AGREEMENT = 0.9  # share of the located anchor a JSON-LD body must hold to be followed


@dataclass
class Block:
    """A run of text that belongs to one block element, in document order."""

    element: HtmlElement
    tag: str
    parts: list[str] = field(default_factory=list)
    link_chars: int = 0
    quoted: bool = False  # inside a <blockquote>: an embedded post or a quotation

    # Read only once the walk has finished the block, and then never changing.
    @cached_property
    def text(self) -> str:
        lines = (_SPACES.sub(" ", line).strip() for line in "".join(self.parts).split("\n"))
        return "\n".join(line for line in lines if line)

    @cached_property
    def key(self) -> str:
        return key_of(self.text)


def key_of(text: str) -> str:
    """Text reduced to its word characters, so that spacing and punctuation never matter."""
    return _NON_WORD.sub("", text).casefold()


def _hidden(element: HtmlElement, page_chars: int) -> bool:
    if element.tag in _SKIP_TAGS or element.get("hidden") is not None:
        return True
    if element.tag in _FURNITURE_TAGS:
        return len(element.text_content()) < page_chars / 2
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
    page_chars = len(root.text_content())
    walk = etree.iterwalk(root, events=("start", "end"))
    for event, element in walk:
        tag = element.tag
        if not isinstance(tag, str):
            continue
        if event == "start":
            if _hidden(element, page_chars):
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
        for_trafilatura(tree),
        url=url,
        favor_precision=True,
        include_comments=False,
        with_metadata=False,
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


@dataclass(frozen=True)
class Tuning:
    """The body finder's settings that are chosen by measurement, not by reasoning alone.

    ``bench/extraction.py`` picks them by k-fold cross-validation (each fold's setting is
    chosen on the other folds and scored on its own pages) and reports that figure.
    """

    # Blocks inside the article's span that trafilatura dropped, taken back: "none",
    # "paragraphs" (not headings) or "all".
    recover: str = "none"
    # Follow the page's JSON-LD articleBody where it holds what trafilatura found.
    json_ld: bool = False
    # Take back a paragraph that stands right before the first located block (a lead).
    lead: bool = True


# The defaults are what held on the 990 snippet pages, which choose nothing else; on the
# 91 pages all settings score within 0.002 F1 of each other (bench/extraction.py says which).
TUNING = Tuning()
GRID = tuple(
    Tuning(recover, json_ld, lead)
    for recover in ("none", "paragraphs", "all")
    for json_ld in (False, True)
    for lead in (False, True)
)


@dataclass
class Candidates:
    """What the body finder knows of one page before it chooses: the page's blocks, the
    anchor and where it lies in them, and the page's own statement of its body."""

    blocks: list[Block]
    anchored: list[tuple[str, str]]
    matched: list[int]  # indices of the blocks located in the anchor
    strong: list[int]  # those long enough to open or close the span
    located: bool  # enough of the anchor was found among the blocks
    json_body: str  # key of the JSON-LD articleBody, "" when there is none
    title: str | None


def candidates(
    tree: HtmlElement, url: str | None, title: str | None, json_body: str | None = None
) -> Candidates:
    """Everything :func:`choose` needs, computed once per page."""
    body = tree.find("body")
    hidden: list[str] = []
    blocks = text_blocks(body if body is not None else tree, hidden)
    anchored = anchor(tree, url)
    target = "".join(key_of(paragraph) for _, paragraph in anchored)
    keys = {key_of(paragraph) for _, paragraph in anchored}
    matched = [i for i, block in enumerate(blocks) if target and _located(block.key, keys, target)]
    strong = [i for i in matched if len(blocks[i].key) >= _STRONG]
    found = sum(len(blocks[i].key) for i in matched)
    shown = len(target) - sum(len(key) for key in hidden if key and key in target)
    located = bool(strong) and found >= _MIN_COVERAGE * shown
    if anchored and not located:
        log.debug("anchor located for %d of %d characters: kept as is", found, shown)
    return Candidates(blocks, anchored, matched, strong, located, key_of(json_body or ""), title)


def choose(page: Candidates, tuning: Tuning) -> list[str]:
    """The article's paragraphs: trafilatura's choice, located in the page and repaired as
    ``tuning`` says, or the blocks the page's JSON-LD body holds where it agrees."""
    blocks = page.blocks
    if not page.anchored:
        kept = _short_page(blocks)
    elif not page.located:
        texts = [text for _, text in page.anchored]
        tags = [tag for tag, _ in page.anchored]
        return _trimmed(texts, tags, page.title)
    else:
        first, last = _span(page.matched, page.strong[0], page.strong[-1])
        container = _common_ancestor(blocks[first].element, blocks[last].element)
        json_kept = _json_ld_blocks(page, first, last) if tuning.json_ld else None
        if json_kept is not None:
            kept = json_kept
        else:
            chosen = set(page.matched)
            kept = [
                block
                for i, block in enumerate(blocks[first : last + 1], start=first)
                if _keep(block, i in chosen, container, tuning.recover)
            ]
            if tuning.lead and first and _is_lead(blocks[first - 1], blocks[first]):
                kept.insert(0, blocks[first - 1])
    return _trimmed([block.text for block in kept], [block.tag for block in kept], page.title)


def _is_lead(block: Block, following: Block) -> bool:
    """Whether an unlocated block before the article reads as its opening paragraph."""
    return (
        block.tag == "p"
        and len(block.key) >= _STRONG
        and block.link_chars <= _MAX_LINK_SHARE * len(block.text)
        and bool(_SENTENCE_END.search(block.text))
        and not _in_furniture(block.element, _common_ancestor(block.element, following.element))
    )


def _json_ld_blocks(page: Candidates, first: int, last: int) -> list[Block] | None:
    """The blocks the page's JSON-LD articleBody holds, when it holds what the anchor found.

    Sites state the article's plain text there for search engines; when it contains the
    anchor's located blocks, it says better than any heuristic which blocks around them
    belong to the article. A body that lacks them (a teaser, another article) is ignored.
    """
    body = page.json_body
    if len(body) < _STRONG:
        return None
    blocks = page.blocks
    anchored = [blocks[i].key for i in page.matched if first <= i <= last]
    inside = sum(len(key) for key in anchored if _located(key, set(), body))
    if inside < _JSON_LD_AGREEMENT * sum(len(key) for key in anchored):
        return None
    held = [i for i, block in enumerate(blocks) if _located(block.key, set(), body)]
    if not held:
        return None
    kept, seen = [], set()
    for i in range(held[0], held[-1] + 1):
        block = blocks[i]
        if block.key in seen or _FURNITURE_TEXT.match(block.text):
            continue
        if len(block.key) < _MIN_ANCHOR and not (block.key in body and _between(i, held)):
            continue
        if len(block.key) >= _MIN_ANCHOR and i not in held:
            continue
        seen.add(block.key)
        kept.append(block)
    return kept


def _between(i: int, held: list[int]) -> bool:
    return any(j < i for j in held) and any(j > i for j in held)


def _short_page(blocks: list[Block]) -> list[Block]:
    """The prose of a page too short for trafilatura: its unlinked paragraphs and quotes."""
    return [
        block
        for block in blocks
        if block.tag in _PROSE
        and block.link_chars <= _MAX_LINK_SHARE * len(block.text)
        and not _FURNITURE_TEXT.match(block.text)
    ]


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
    if len(key) < 3 * _CHUNK:  # one coincidence of 24 characters is not enough
        return False
    chunks = [key[i : i + _CHUNK] for i in range(0, len(key) - _CHUNK + 1, _CHUNK)]
    return sum(chunk in target for chunk in chunks) * 2 >= len(chunks)


def _keep(block: Block, anchored: bool, container: HtmlElement, recover: str) -> bool:
    if _FURNITURE_TEXT.match(block.text):
        return False
    linked = block.link_chars > _MAX_LINK_SHARE * len(block.text)
    if block.tag in _HEADINGS and linked:
        return False  # a teaser for another article
    if anchored:
        return True
    if recover == "none" or (recover == "paragraphs" and block.tag in _HEADINGS):
        return False
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


def _trimmed(texts: list[str], tags: list[str], title: str | None) -> list[str]:
    """The body without the title ahead of it, teasers for other articles inside it, and
    boilerplate after it."""
    teasers = [i for i, text in enumerate(texts) if _TEASER.match(text) and len(text.split()) <= 25]
    if teasers:
        texts = [text for i, text in enumerate(texts) if i not in teasers]
        tags = [tag for i, tag in enumerate(tags) if i not in teasers]
    end = len(texts)
    for i in range(1, len(texts)):
        if _END_MARK.match(texts[i]) or (i >= len(texts) / 2 and _ABOUT.match(texts[i])):
            end = i
            break
    while end and _heading(tags[end - 1], texts[end - 1]):
        end -= 1  # a heading with nothing after it introduces what was left out
    return _without_title(texts[:end], tags[:end], title)


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
    return texts if not all(map(_heading, tags, texts)) else []


def _heading(tag: str, text: str) -> bool:
    """A heading that reads as one: short and not a sentence (sites set prose in <h4> too)."""
    return (
        tag in _HEADINGS and len(text.split()) <= _HEADING_WORDS and not _SENTENCE_END.search(text)
    )
