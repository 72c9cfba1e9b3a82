"""PDFs written by hand for the tests: one content stream per page, Helvetica text."""

from __future__ import annotations


def pdf(pages: list[list[str]], info: dict[str, str]) -> bytes:
    """A PDF with one page per list of lines; a page without lines has no text layer at
    all (as a scan has none)."""
    count = len(pages)
    fonts = 3 + count  # object numbers: catalog, pages, the pages, font, streams, info
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + i} 0 R" for i in range(count))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode("latin-1"))
    streams = []
    for i, lines in enumerate(pages):
        page = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
        if lines:
            page += f" /Resources << /Font << /F1 {fonts} 0 R >> >> /Contents {fonts + 1 + i} 0 R"
        objects.append((page + " >>").encode("latin-1"))
        content = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
        streams.append(f"BT /F1 12 Tf 72 720 Td {content} ET".encode("latin-1"))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.extend(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(s), s) for s in streams)
    fields = " ".join(f"/{key} ({value})" for key, value in info.items())
    objects.append(f"<< {fields} >>".encode("latin-1"))
    return pdf_file(objects, b" /Info %d 0 R" % len(objects))


def pdf_file(objects: list[bytes], trailer: bytes = b"") -> bytes:
    """A PDF file of ``objects`` (numbered from 1, the first the catalog), with its cross
    reference table; ``trailer`` adds entries to the trailer."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\n" % (len(objects) + 1, trailer)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)
