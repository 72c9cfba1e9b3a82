-- A speaker id an earlier release issued, and the id its quotes carry now: re-extraction
-- with cleaner speaker names ("NASA Administrator Jim Bridenstine" -> "Jim Bridenstine")
-- must not break a link to the old speaker page.
CREATE TABLE speaker_aliases (
    old_id TEXT PRIMARY KEY,
    new_id TEXT NOT NULL
);
