-- The first and last words of each quote's normalised text, indexed, so that the same
-- quote elsewhere, and its variants with a word changed or dropped, are found without
-- scanning every quote. Rows from before this migration are filled in when the archive
-- is next opened for writing (Catalog.fill_quote_keys).
ALTER TABLE quotes ADD COLUMN lead TEXT;
ALTER TABLE quotes ADD COLUMN tail TEXT;
CREATE INDEX quotes_by_lead ON quotes (lead);
CREATE INDEX quotes_by_tail ON quotes (tail);
