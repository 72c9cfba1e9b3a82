-- The capture log: an append-only hash chain over every capture, so that rewritten or
-- backdated history shows. Entry n commits to entry n-1:
--   entry_hash = sha256(prev_hash "\n" capture_id "\n" captured_at "\n" payload_digest)
-- Existing captures are appended by the store the next time the archive is opened.
CREATE TABLE capture_log (
    seq             INTEGER PRIMARY KEY,
    capture_id      TEXT NOT NULL UNIQUE REFERENCES captures (id),
    captured_at     TEXT NOT NULL,
    payload_digest  TEXT NOT NULL,
    prev_hash       TEXT NOT NULL,
    entry_hash      TEXT NOT NULL
);
