-- The catalog: what the WARC files hold, and what was made of it.
-- Times are ISO 8601 UTC strings ("2026-11-03T14:05:09.123456Z"); ids are content-derived
-- (see archive/ids.py). Written in the SQL that SQLite and PostgreSQL share.

CREATE TABLE captures (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    canonical_url   TEXT NOT NULL,
    captured_at     TEXT NOT NULL,
    status          INTEGER NOT NULL,
    content_type    TEXT NOT NULL,
    payload_digest  TEXT NOT NULL,
    payload_length  INTEGER NOT NULL,
    warc_file       TEXT NOT NULL,
    warc_offset     INTEGER NOT NULL,
    warc_length     INTEGER NOT NULL,
    warc_record_id  TEXT NOT NULL UNIQUE,
    record_type     TEXT NOT NULL,
    refers_to       TEXT,
    etag            TEXT,
    last_modified   TEXT,
    location        TEXT,
    source          TEXT,
    processed       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX captures_by_url ON captures (canonical_url, captured_at);
CREATE INDEX captures_by_file ON captures (warc_file, warc_offset);
CREATE INDEX captures_unprocessed ON captures (processed, captured_at);

CREATE TABLE documents (
    id                 TEXT PRIMARY KEY,
    canonical_url      TEXT NOT NULL UNIQUE,
    url                TEXT NOT NULL,
    first_captured     TEXT NOT NULL,
    last_captured      TEXT NOT NULL,
    source             TEXT,
    publisher          TEXT,
    kind               TEXT,
    state              TEXT NOT NULL DEFAULT 'live',
    latest_version_id  TEXT
);

CREATE TABLE versions (
    id           TEXT PRIMARY KEY,
    document_id  TEXT NOT NULL REFERENCES documents (id),
    capture_id   TEXT NOT NULL REFERENCES captures (id),
    seq          INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (document_id, seq)
);

-- Which version each capture showed (a capture of unchanged text joins its version).
CREATE TABLE capture_versions (
    capture_id  TEXT PRIMARY KEY REFERENCES captures (id),
    version_id  TEXT NOT NULL REFERENCES versions (id)
);

CREATE TABLE extractions (
    id             TEXT PRIMARY KEY,
    version_id     TEXT NOT NULL REFERENCES versions (id),
    extractor      TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    text           TEXT NOT NULL,
    text_digest    TEXT NOT NULL,
    paragraphs     TEXT NOT NULL,
    title          TEXT,
    authors        TEXT NOT NULL,
    publisher      TEXT,
    published      TEXT,
    modified       TEXT,
    language       TEXT,
    canonical_url  TEXT,
    problems       TEXT NOT NULL,
    is_current     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX extractions_by_version ON extractions (version_id, is_current);

CREATE TABLE speakers (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    anonymous    INTEGER NOT NULL DEFAULT 0,
    document_id  TEXT
);

CREATE TABLE quotes (
    id               TEXT NOT NULL,
    extraction_id    TEXT NOT NULL REFERENCES extractions (id),
    document_id      TEXT NOT NULL REFERENCES documents (id),
    start_offset     INTEGER NOT NULL,
    end_offset       INTEGER NOT NULL,
    text             TEXT NOT NULL,
    normalized       TEXT NOT NULL,
    speaker_id       TEXT REFERENCES speakers (id),
    speaker          TEXT,
    speaker_mention  TEXT,
    speaker_start    INTEGER,
    speaker_end      INTEGER,
    role             TEXT,
    cue              TEXT,
    via              TEXT,
    anonymous        INTEGER NOT NULL DEFAULT 0,
    unclosed         INTEGER NOT NULL DEFAULT 0,
    method           TEXT NOT NULL,
    confidence       REAL NOT NULL,
    PRIMARY KEY (id, extraction_id)
);
CREATE INDEX quotes_by_extraction ON quotes (extraction_id, start_offset);
CREATE INDEX quotes_by_speaker ON quotes (speaker_id);
CREATE INDEX quotes_by_normalized ON quotes (normalized);

-- A quote id that an older extraction issued, and the quote that succeeds it.
CREATE TABLE quote_aliases (
    old_id  TEXT PRIMARY KEY,
    new_id  TEXT NOT NULL
);

CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    type         TEXT NOT NULL,
    document_id  TEXT NOT NULL REFERENCES documents (id),
    url          TEXT NOT NULL,
    at           TEXT NOT NULL,
    capture_id   TEXT,
    UNIQUE (type, document_id, capture_id)
);

-- Every fetch that did not yield a capture, with its reason.
CREATE TABLE failures (
    id      INTEGER PRIMARY KEY,
    url     TEXT NOT NULL,
    source  TEXT,
    at      TEXT NOT NULL,
    reason  TEXT NOT NULL,
    status  INTEGER
);
CREATE INDEX failures_by_source ON failures (source, at);

-- URLs discovered for a source's run, so that a run stopped half-way resumes.
CREATE TABLE queue (
    source       TEXT NOT NULL,
    url          TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    queued_at    TEXT NOT NULL,
    done_at      TEXT,
    PRIMARY KEY (source, url, run_id)
);

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    discovered  INTEGER NOT NULL DEFAULT 0,
    fetched     INTEGER NOT NULL DEFAULT 0,
    new_versions INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    error       TEXT
);
CREATE INDEX runs_by_source ON runs (source, started_at);

CREATE TABLE schedule (
    source    TEXT PRIMARY KEY,
    next_due  TEXT NOT NULL
);
