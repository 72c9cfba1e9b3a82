"""Corrections of quotes on the record, and their hash chain.

An editor corrects a quote's speaker, role, boundaries or cue, marks it "not a quote", or
attaches a note, always with a reason. Each correction is an event (who, when, why, what
it was before and after) kept apart from the quotes that extraction writes, so that
re-extracting a document or rebuilding the index never loses one: the machine's quote is
read, then its corrections are applied in order (:func:`apply_corrections`). A corrected
quote keeps its id.

Like the capture log, corrections form a hash chain: entry n holds the hash of entry n-1
and its own (:func:`correction_entry_hash` defines the bytes), so that a rewritten or
removed correction shows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from archive import ids
from archive.catalog.base import Queries
from archive.catalog.captures import GENESIS_HASH
from archive.catalog.engine import CatalogError
from archive.catalog.rows import from_text, to_text
from archive.models import Quote, Speaker

KINDS = {
    "speaker": "speaker",
    "role": "role",
    "boundaries": "boundaries",
    "cue": "cue",
    "not_quote": "not a quote",
    "note": "note",
}
# The advisory lock that serialises appends to the corrections chain on PostgreSQL
# ("onrecorr" in ASCII).
CHAIN_LOCK = 0x6F6E7265636F7272
MAX_REASON = 2000


class CorrectionError(CatalogError):
    """A correction that cannot be made as asked (nothing is recorded)."""


@dataclass(frozen=True)
class Correction:
    seq: int
    id: str
    quote_id: str
    kind: str
    before: dict
    after: dict
    reason: str
    author: str
    created_at: datetime
    prev_hash: str
    entry_hash: str

    @property
    def label(self) -> str:
        return KINDS[self.kind]

    @property
    def summary(self) -> str:
        """What changed, in a few words."""
        if self.kind == "speaker":
            return f"speaker {self.before.get('speaker')!r} → {self.after.get('speaker')!r}"
        if self.kind == "role":
            return f"role {self.before.get('role')!r} → {self.after.get('role')!r}"
        if self.kind == "cue":
            return f"cue {self.before.get('cue')!r} → {self.after.get('cue')!r}"
        if self.kind == "boundaries":
            return (
                f"boundaries {self.before['start']}–{self.before['end']}"
                f" → {self.after['start']}–{self.after['end']}"
            )
        if self.kind == "not_quote":
            return "marked not a quote" if self.after.get("not_quote") else "marked a quote again"
        return f"note: {self.after.get('note')}"

    def entry(self) -> dict:
        """The chain entry as it is exported and hashed (times as catalog text)."""
        return {
            "seq": self.seq,
            "id": self.id,
            "quote_id": self.quote_id,
            "kind": self.kind,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "author": self.author,
            "created_at": to_text(self.created_at),
            "prev_hash": self.prev_hash,
            "entry_hash": self.entry_hash,
        }


@dataclass(frozen=True)
class Corrected:
    """A quote as the record now stands: the machine's attribution with every correction
    applied, beside the machine's own."""

    quote: Quote
    machine: Quote
    corrections: tuple[Correction, ...] = ()
    not_quote: bool = False
    notes: tuple[Correction, ...] = ()

    @property
    def corrected(self) -> bool:
        return bool(self.corrections)


def canonical_json(value: dict) -> str:
    """JSON as the chain hashes it: sorted keys, no spaces, UTF-8 as is.

    >>> canonical_json({"b": 1, "a": "é"})
    '{"a":"é","b":1}'
    """
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def correction_entry_bytes(prev_hash: str, entry: dict) -> bytes:
    """The exact bytes one entry of the corrections chain hashes: the previous entry's
    hash, the correction's id, quote id, kind, before and after (:func:`canonical_json`),
    reason, author and time (catalog text), UTF-8, joined by line feeds.

    >>> correction_entry_bytes("00", {"id": "r-1", "quote_id": "q-1", "kind": "note",
    ...     "before": {}, "after": {"note": "x"}, "reason": "why", "author": "ed",
    ...     "created_at": "2026-11-03T09:00:00.000000Z"})
    b'00\\nr-1\\nq-1\\nnote\\n{}\\n{"note":"x"}\\nwhy\\ned\\n2026-11-03T09:00:00.000000Z'
    """
    fields = (
        prev_hash,
        entry["id"],
        entry["quote_id"],
        entry["kind"],
        canonical_json(entry["before"]),
        canonical_json(entry["after"]),
        entry["reason"],
        entry["author"],
        entry["created_at"],
    )
    return "\n".join(fields).encode("utf-8")


def correction_entry_hash(prev_hash: str, entry: dict) -> str:
    return hashlib.sha256(correction_entry_bytes(prev_hash, entry)).hexdigest()


def chain_problems(entries: Iterable[dict]) -> list[tuple[int, str]]:
    """Re-hash a corrections chain from the genesis hash: (position, what is wrong) for
    each entry that does not follow the one before it or whose hash does not match."""
    problems = []
    expected_seq, expected_prev = 1, GENESIS_HASH
    for entry in entries:
        try:
            seq, prev, stated = entry["seq"], entry["prev_hash"], entry["entry_hash"]
            computed = correction_entry_hash(prev, entry)
        except (KeyError, TypeError, AttributeError) as exc:
            problems.append((expected_seq, f"entry {expected_seq} is incomplete: {exc}"))
            break
        if seq != expected_seq or prev != expected_prev:
            problems.append(
                (
                    seq,
                    f"correction {seq} does not follow the one before it: one was removed, "
                    "inserted or changed",
                )
            )
        if computed != stated:
            problems.append(
                (
                    seq,
                    f"correction {seq}'s hash does not match its contents: it was changed "
                    "after it was recorded",
                )
            )
        expected_seq, expected_prev = seq + 1, stated
    return problems


def apply_corrections(machine: Quote, corrections: Iterable[Correction]) -> Corrected:
    """The quote with each correction applied in order (each ``after`` replaces fields)."""
    quote, not_quote, applied, notes = machine, False, [], []
    for correction in corrections:
        applied.append(correction)
        after = correction.after
        if correction.kind == "speaker":
            quote = replace(
                quote,
                speaker=after.get("speaker"),
                speaker_id=after.get("speaker_id"),
                anonymous=False,
            )
        elif correction.kind == "role":
            quote = replace(quote, role=after.get("role"))
        elif correction.kind == "cue":
            quote = replace(quote, cue=after.get("cue"))
        elif correction.kind == "boundaries":
            quote = replace(quote, start=after["start"], end=after["end"], text=after["text"])
        elif correction.kind == "not_quote":
            not_quote = bool(after.get("not_quote"))
        elif correction.kind == "note":
            notes.append(correction)
    return Corrected(quote, machine, tuple(applied), not_quote, tuple(notes))


def _correction(row) -> Correction:
    return Correction(
        seq=row["seq"],
        id=row["id"],
        quote_id=row["quote_id"],
        kind=row["kind"],
        before=json.loads(row["before"]),
        after=json.loads(row["after"]),
        reason=row["reason"],
        author=row["author"],
        created_at=from_text(row["created_at"]),
        prev_hash=row["prev_hash"],
        entry_hash=row["entry_hash"],
    )


def _blank(value) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


class CorrectionQueries(Queries):
    # -- reading ----------------------------------------------------------------------

    def corrections_of(self, quote_id: str) -> list[Correction]:
        """A quote's corrections, oldest first (those made under its earlier ids too,
        found in the same statement: every quote page asks)."""
        rows = self._rows(
            "WITH RECURSIVE former(id) AS (SELECT old_id FROM quote_aliases WHERE new_id = :id"
            " UNION SELECT a.old_id FROM quote_aliases a JOIN former f ON a.new_id = f.id)"
            " SELECT * FROM corrections"
            " WHERE quote_id = :id OR quote_id IN (SELECT id FROM former) ORDER BY seq",
            id=quote_id,
        )
        return [_correction(row) for row in rows]

    def corrected(self, quote: Quote) -> Corrected:
        return apply_corrections(quote, self.corrections_of(quote.id))

    def corrected_many(self, quotes: Iterable[Quote]) -> list[Corrected]:
        """Each quote with its corrections (one query for the lot)."""
        quotes = list(quotes)
        by_quote: dict[str, list[Correction]] = {}
        wanted = sorted({q.id for q in quotes})
        for start in range(0, len(wanted), 500):
            rows = self._rows(
                "SELECT * FROM corrections WHERE quote_id IN :ids ORDER BY seq",
                ids=wanted[start : start + 500],
            )
            for row in rows:
                by_quote.setdefault(row["quote_id"], []).append(_correction(row))
        return [apply_corrections(q, by_quote.get(q.id, ())) for q in quotes]

    def corrected_quote_ids(self) -> set[str]:
        return set(self._run("SELECT DISTINCT quote_id FROM corrections").scalars())

    def not_quote_ids(self) -> set[str]:
        """Quotes that editors marked not a quote (the index leaves them out), by the id
        each has now: a mark made under an id a re-extraction replaced holds for its
        successor."""
        latest: dict[str, bool] = {}
        for row in self._run(
            "SELECT quote_id, after FROM corrections WHERE kind = 'not_quote' ORDER BY seq"
        ).all():
            quote_id = self.resolve_quote_id(row[0]) or row[0]
            latest[quote_id] = bool(json.loads(row[1]).get("not_quote"))
        return {quote_id for quote_id, flag in latest.items() if flag}

    def quotes_corrected_to_speaker(self, speaker_ids: list[str]) -> list[Quote]:
        """Current quotes a speaker correction gave to one of these speakers."""
        rows = self._rows("SELECT DISTINCT quote_id, after FROM corrections WHERE kind = 'speaker'")
        chosen = [
            r["quote_id"] for r in rows if json.loads(r["after"]).get("speaker_id") in speaker_ids
        ]
        found = []
        for quote_id in dict.fromkeys(chosen):
            quote = self.quote(quote_id)
            if quote is not None:
                found.append(quote)
        return found

    def speaker_quotes(self, speaker_id: str) -> list[Quote]:
        """The speaker's current quotes as the record now stands: theirs and those of
        speakers merged into them, plus those editors gave them, less those editors took
        away or marked not a quote (each as corrected)."""
        ids = self.merged_speaker_ids(speaker_id)
        quotes = [q for i in ids for q in self.quotes_by_speaker(i)]
        quotes += self.quotes_corrected_to_speaker(ids)
        return [
            r.quote
            for r in self.corrected_many(quotes)
            if not r.not_quote and self.resolve_speaker_id(r.quote.speaker_id or "") in ids
        ]

    def corrections(self, *, limit: int | None = None) -> list[Correction]:
        """Corrections, newest first."""
        sql = "SELECT * FROM corrections ORDER BY seq DESC"
        if limit is not None:
            return [_correction(r) for r in self._rows(sql + " LIMIT :n", n=limit)]
        return [_correction(r) for r in self._rows(sql)]

    def correction_entries(self) -> Iterator[dict]:
        """The chain in order, as exported and hashed."""
        for row in self._run("SELECT * FROM corrections ORDER BY seq").mappings():
            yield _correction(row).entry()

    def correction_head(self) -> tuple[int, str]:
        row = self._run("SELECT seq, entry_hash FROM corrections ORDER BY seq DESC LIMIT 1").first()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    # -- writing ----------------------------------------------------------------------

    def correct_quote(
        self, quote_id: str, kind: str, value, *, reason: str, author: str
    ) -> Correction:
        """Record one correction of a current quote; raise CorrectionError (recording
        nothing) when it cannot be made. ``value`` is the new speaker name, role or cue,
        a (start, end) pair of offsets into the quote's text, a bool for ``not_quote``,
        or the note's text."""
        if kind not in KINDS:
            raise CorrectionError(f"a correction is one of {', '.join(KINDS)}, not {kind!r}")
        reason = (reason or "").strip()
        if not reason:
            raise CorrectionError("every correction needs a reason")
        if len(reason) > MAX_REASON:
            raise CorrectionError(f"a reason is at most {MAX_REASON} characters")
        machine = self.quote(quote_id)
        if machine is None:
            raise CorrectionError(f"onrecord has no quote {quote_id}")
        with self.transaction():
            self._lock_chain()  # before reading what the quote is now: an edit at the
            # same moment would otherwise be undone by this one, its 'before' stale
            current = self.corrected(machine)
            before, after = self._change(current, kind, value)
            return self._append_correction(quote_id, kind, before, after, reason, author)

    def _lock_chain(self) -> None:
        """Hold the corrections' lock to the end of the transaction: edits of quotes and
        speakers are made one at a time, each reading what the one before left. (An
        SQLite transaction holds the whole catalog's write lock from its start.)"""
        if not self.sqlite:
            self._run("SELECT pg_advisory_xact_lock(:key)", key=CHAIN_LOCK)

    def _change(self, current: Corrected, kind: str, value) -> tuple[dict, dict]:
        quote = current.quote
        if kind == "speaker":
            name = _blank(value)
            if name is None:
                raise CorrectionError("name the speaker the quote should be attributed to")
            speaker_id = self.resolve_speaker_id(ids.speaker_id(name))
            if self.speaker(speaker_id) is None:
                self.save_speaker(Speaker(id=speaker_id, name=name))
            else:
                name = self.speaker(speaker_id).name
            if speaker_id == quote.speaker_id:
                raise CorrectionError(f"the quote is already attributed to {name}")
            return (
                {"speaker": quote.speaker, "speaker_id": quote.speaker_id},
                {"speaker": name, "speaker_id": speaker_id},
            )
        if kind in ("role", "cue"):
            new = _blank(value)
            if new == getattr(quote, kind):
                raise CorrectionError(f"the quote's {kind} is already {new!r}")
            return {kind: getattr(quote, kind)}, {kind: new}
        if kind == "not_quote":
            flag = bool(value)
            if flag == current.not_quote:
                raise CorrectionError(
                    "the quote is already marked not a quote" if flag else "the quote is a quote"
                )
            return {"not_quote": current.not_quote}, {"not_quote": flag}
        if kind == "note":
            note = _blank(value)
            if note is None:
                raise CorrectionError("a note needs some text")
            return {}, {"note": note}
        start, end = self._check_boundaries(quote, value)
        text = self.extraction(quote.extraction_id).text
        return (
            {"start": quote.start, "end": quote.end, "text": quote.text},
            {"start": start, "end": end, "text": text[start:end]},
        )

    def _check_boundaries(self, quote: Quote, value) -> tuple[int, int]:
        try:
            start, end = (int(v) for v in value)
        except (TypeError, ValueError):
            raise CorrectionError("boundaries are two offsets: start and end") from None
        extraction = self.extraction(quote.extraction_id)
        length = len(extraction.text)
        if not 0 <= start < end <= length:
            raise CorrectionError(
                f"the boundaries {start}–{end} point outside the text (0–{length})"
            )
        if (start, end) == (quote.start, quote.end):
            raise CorrectionError("the quote already has those boundaries")
        others = self.corrected_many(self.quotes_of_extraction(quote.extraction_id))
        for other in others:
            if other.quote.id == quote.id or other.not_quote:
                continue
            if start < other.quote.end and other.quote.start < end:
                raise CorrectionError(
                    f"the boundaries {start}–{end} would overlap quote {other.quote.id}"
                    f" ({other.quote.start}–{other.quote.end})"
                )
        return start, end

    def _append_correction(
        self,
        quote_id: str,
        kind: str,
        before: dict,
        after: dict,
        reason: str,
        author: str,
        created_at: datetime | None = None,
    ) -> Correction:
        self._lock_chain()
        seq, prev = self.correction_head()
        entry = {
            "quote_id": quote_id,
            "kind": kind,
            "before": before,
            "after": after,
            "reason": reason,
            "author": author,
            "created_at": to_text(created_at or datetime.now(UTC)),
        }
        entry["id"] = "r-" + correction_entry_hash(prev, {**entry, "id": ""})[:16]
        entry["seq"] = seq + 1
        entry["prev_hash"] = prev
        entry["entry_hash"] = correction_entry_hash(prev, entry)
        self._run(
            "INSERT INTO corrections (seq, id, quote_id, kind, before, after, reason, author,"
            " created_at, prev_hash, entry_hash) VALUES (:seq, :id, :quote_id, :kind,"
            " :before, :after, :reason, :author, :created_at, :prev_hash, :entry_hash)",
            {**entry, "before": canonical_json(before), "after": canonical_json(after)},
        )
        self.note_change("corrected", [self.quote(quote_id).document_id], entry["id"])
        return _correction(
            {**entry, "before": canonical_json(before), "after": canonical_json(after)}
        )

    def import_corrections(self, entries: Iterable[dict]) -> int:
        """Add corrections from an exported chain (those not already here, by id), in
        order. Appended after this catalog's own, each is hashed again onto this chain;
        the id, quote, before, after, reason, author and time stay as they were."""
        added = 0
        with self.transaction():
            known = set(self._run("SELECT id FROM corrections").scalars())
            for entry in sorted(entries, key=lambda e: e["seq"]):
                if entry["id"] in known:
                    continue
                self._lock_chain()
                seq, prev = self.correction_head()
                row = {
                    k: entry[k]
                    for k in (
                        "id",
                        "quote_id",
                        "kind",
                        "before",
                        "after",
                        "reason",
                        "author",
                        "created_at",
                    )
                }
                row |= {"seq": seq + 1, "prev_hash": prev}
                speaker_id = row["after"].get("speaker_id") if row["kind"] == "speaker" else None
                if speaker_id and self.speaker(speaker_id) is None:
                    self.save_speaker(Speaker(id=speaker_id, name=row["after"]["speaker"]))
                row["entry_hash"] = correction_entry_hash(prev, row)
                self._run(
                    "INSERT INTO corrections (seq, id, quote_id, kind, before, after, reason,"
                    " author, created_at, prev_hash, entry_hash) VALUES (:seq, :id, :quote_id,"
                    " :kind, :before, :after, :reason, :author, :created_at, :prev_hash,"
                    " :entry_hash)",
                    {
                        **row,
                        "before": canonical_json(row["before"]),
                        "after": canonical_json(row["after"]),
                    },
                )
                quote = self.quote(row["quote_id"])
                if quote is not None:
                    self.note_change("corrected", [quote.document_id], row["id"])
                added += 1
        return added

    # -- speakers as identities ----------------------------------------------------------

    def resolve_speaker_id(self, speaker_id: str) -> str:
        """The speaker an id stands for now: its successor after re-extraction (speaker
        aliases), then the speaker editors merged it into."""
        seen = [self.current_speaker_id(speaker_id) or speaker_id]
        while True:
            merged = self._value(
                "SELECT new_id FROM speaker_merges WHERE old_id = :id", id=seen[-1]
            )
            if merged is None or merged in seen:
                return seen[-1]
            seen.append(merged)

    def speaker_merges(self) -> dict[str, str]:
        """Every merged-away speaker id, with the speaker it stands for now."""
        olds = self._run("SELECT old_id FROM speaker_merges").scalars()
        return {old: self.resolve_speaker_id(old) for old in list(olds)}

    def merged_speaker_ids(self, speaker_id: str) -> list[str]:
        """The speaker id and every id merged into it."""
        return self._predecessors("speaker_merges", speaker_id)

    def merge_speakers(self, old_id: str, new_id: str, *, reason: str, author: str) -> None:
        """Merge speaker ``old_id`` into ``new_id``: its page leads to the other, whose
        page lists the quotes of both; no quote changes id."""
        reason = (reason or "").strip()
        if not reason:
            raise CorrectionError("a merge needs a reason")
        with self.transaction():
            # merges read under the lock: two at once could merge A into B and B into A
            self._lock_chain()
            old_id, new_id = self.resolve_speaker_id(old_id), self.resolve_speaker_id(new_id)
            for speaker_id in (old_id, new_id):
                if self.speaker(speaker_id) is None:
                    raise CorrectionError(f"onrecord has no speaker {speaker_id}")
            if old_id == new_id:
                raise CorrectionError("a speaker cannot be merged into itself")
            affected = self.documents_of_speaker(old_id)
            self._run(
                "INSERT INTO speaker_merges (old_id, new_id, author, reason, created_at)"
                " VALUES (:old, :new, :author, :reason, :now)",
                old=old_id,
                new=new_id,
                author=author,
                reason=reason,
                now=to_text(datetime.now(UTC)),
            )
            self.note_change("merged", affected, old_id)

    def split_speaker(
        self, speaker_id: str, quote_ids: Iterable[str], name: str, *, reason: str, author: str
    ) -> list[Correction]:
        """Give some of a speaker's quotes to another speaker (named ``name``, made when
        new): one speaker correction per quote, all or none; no quote changes id."""
        chosen = list(dict.fromkeys(quote_ids))
        if not chosen:
            raise CorrectionError("choose the quotes that belong to the other speaker")
        made = []
        with self.transaction():
            self._lock_chain()
            for quote_id in chosen:
                quote = self.quote(quote_id)
                if quote is None or self.corrected(quote).quote.speaker_id not in (
                    self.merged_speaker_ids(self.resolve_speaker_id(speaker_id))
                ):
                    raise CorrectionError(f"quote {quote_id} is not attributed to {speaker_id}")
                made.append(
                    self.correct_quote(quote_id, "speaker", name, reason=reason, author=author)
                )
        return made

    def speaker_merge_rows(self) -> list[tuple[str, ...]]:
        """Every speaker merge as it was made: (old id, new id, author, reason, time)."""
        rows = self._run(
            "SELECT old_id, new_id, author, reason, created_at FROM speaker_merges ORDER BY old_id"
        )
        return [tuple(row) for row in rows]

    def import_speaker_merge(
        self, old_id: str, new_id: str, author: str, reason: str, created_at: str
    ) -> bool:
        """Add a merge from another archive as it was made (an export); whether it was
        added: not when ``old_id`` is merged already, or ``new_id`` stands for it here
        (the two would lead to each other)."""
        with self.transaction():
            self._lock_chain()
            if self.resolve_speaker_id(new_id) == old_id:
                return False
            added = self._run(
                "INSERT INTO speaker_merges (old_id, new_id, author, reason, created_at)"
                " VALUES (:old, :new, :author, :reason, :at) ON CONFLICT (old_id) DO NOTHING",
                old=old_id,
                new=new_id,
                author=author,
                reason=reason,
                at=created_at,
            ).rowcount
            if added:
                self.note_change("merged", self.documents_of_speaker(old_id), old_id)
        return bool(added)

    def speaker_identifier_rows(self) -> list[tuple[str, ...]]:
        """Every identifier editors gave a speaker: (speaker id, scheme, value)."""
        rows = self._run(
            "SELECT speaker_id, scheme, value FROM speaker_identifiers ORDER BY speaker_id, scheme"
        )
        return [tuple(row) for row in rows]

    def speaker_identifiers(self, speaker_id: str) -> dict[str, str]:
        rows = self._run(
            "SELECT scheme, value FROM speaker_identifiers WHERE speaker_id = :id ORDER BY scheme",
            id=speaker_id,
        )
        return {r[0]: r[1] for r in rows}

    def set_speaker_identifier(self, speaker_id: str, scheme: str, value: str) -> None:
        self._run(
            "INSERT INTO speaker_identifiers (speaker_id, scheme, value)"
            " VALUES (:id, :scheme, :value)"
            " ON CONFLICT (speaker_id, scheme) DO UPDATE SET value = excluded.value",
            id=speaker_id,
            scheme=scheme,
            value=value,
        )
