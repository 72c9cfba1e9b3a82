-- Documents whose index entries are behind the catalog. A document is queued in the same
-- transaction that changes it and leaves the queue once the index has it, so a crash
-- between the catalog commit and the index update is caught up by the next run.
CREATE TABLE index_queue (
    document_id  TEXT PRIMARY KEY REFERENCES documents (id),
    queued_at    TEXT NOT NULL
);
