"""A loopback site whose statement exists only after a script runs, for the browser
capture tests and the pywb replay test (all text written for these tests).

The page (on 127.0.0.1) is an empty shell; its script, its stylesheet and its image come
from a separate "CDN" host (127.0.0.2). The script builds the article and its quotes;
the stylesheet sets the page's height, so a screenshot of the right height shows that
the stylesheet applied.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from tests.loopback import LoopbackServer

PAGE_PATH = "/statements/reservoir"
PAGE_HEIGHT = 1400  # set by the CDN's stylesheet
HEADLINE = "Eastern reservoir to stay open through the winter"

SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Millbrook Valley Water Board</title>
<link rel="stylesheet" href="{cdn}/assets/site.css">
<script src="{cdn}/assets/render.js" defer></script></head>
<body><main id="app"><p class="loading">Loading the statement…</p></main></body></html>
"""

RENDER_JS = """
const base = new URL(".", document.currentScript.src);
const paragraphs = [
  "The Millbrook Valley Water Board said on Tuesday that the eastern reservoir will stay "
  + "open through the winter, after engineers finished a month of inspections of the dam.",
  "\\u201cWe have checked every gate and every pump, and the dam is sound,\\u201d said "
  + "Priya Okafor, the board's chief engineer.",
  "The inspections followed heavy rain in October, when the spillway ran at full flow for "
  + "three days and residents of Lower Millbrook asked whether the embankment would hold.",
  "\\u201cNobody downstream needs to leave their home this winter,\\u201d Okafor said. She "
  + "added that the board would publish its inspection reports in full next week.",
  "The board will hold a public meeting at the Lower Millbrook library on 12 December."
];
document.getElementById("app").innerHTML =
  "<article><h1>HEADLINE</h1>"
  + "<img alt=\\"Board seal\\" width=\\"64\\" height=\\"64\\" src=\\"" + base + "seal.png\\">"
  + paragraphs.map(text => "<p>" + text + "</p>").join("") + "</article>";
""".replace("HEADLINE", HEADLINE)

SITE_CSS = f"html, body {{ margin: 0; height: {PAGE_HEIGHT}px; overflow: hidden; }}"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG of one colour."""
    row = b"\x00" + bytes(rgb) * width
    chunks = [
        (b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
        (b"IDAT", zlib.compress(row * height)),
        (b"IEND", b""),
    ]
    out = b"\x89PNG\r\n\x1a\n"
    for kind, data in chunks:
        out += struct.pack(">I", len(data)) + kind + data
        out += struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return out


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, after checking that its pixels decompress to that size."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    position, idat, header = 8, b"", None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        crc = struct.unpack(">I", data[position + 8 + length : position + 12 + length])[0]
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, colour = header[:4]
    channels = {2: 3, 6: 4}[colour]
    assert depth == 8
    assert len(zlib.decompress(idat)) == height * (1 + width * channels)
    return width, height


SEAL = png(64, 64, (20, 60, 120))


@contextmanager
def script_site() -> Iterator[tuple[LoopbackServer, LoopbackServer]]:
    """(site, cdn): the statement's server and the CDN's, both running."""
    with LoopbackServer(host="127.0.0.2") as cdn, LoopbackServer() as site:
        cdn.route(
            "/assets/render.js",
            body=RENDER_JS,
            headers={"Content-Type": "text/javascript", "Access-Control-Allow-Origin": "*"},
        )
        cdn.route("/assets/site.css", body=SITE_CSS, headers={"Content-Type": "text/css"})
        cdn.route("/assets/seal.png", body=SEAL, headers={"Content-Type": "image/png"})
        site.route(
            PAGE_PATH,
            body=SHELL.format(cdn=cdn.origin),
            headers={"Content-Type": "text/html; charset=utf-8"},
        )
        yield site, cdn
