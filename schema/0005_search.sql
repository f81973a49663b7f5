-- Full-text search over what people look for (docs/storage.md, "Search index"):
-- ticket titles and customers, override justifications, review comments.
--
-- Each index is an FTS5 table with external content: it stores only the index, the
-- text stays in its own table (rowid for rowid). Triggers keep it in step, so the
-- index rows are written by the same statement, hence the same transaction, as the
-- rows they index: a rolled-back import or override leaves no index row behind, and a
-- committed one is searchable at once. The names are the usual ones for such an index
-- (`<table>_fts`, triggers `<table>_ai/_ad/_au`).
--
-- The tokenizer folds case and diacritics ("Müller" is found by "muller").
-- overrides and reviews are append-only (their UPDATE and DELETE are refused before
-- anything happens), so they need an insert trigger only. tickets is a projection
-- the importer rewrites as events arrive: its update trigger re-indexes a row only
-- when its title or customer changes.

CREATE VIRTUAL TABLE tickets_fts USING fts5(
    title, customer, content = 'tickets', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER tickets_ai AFTER INSERT ON tickets BEGIN
    INSERT INTO tickets_fts (rowid, title, customer) VALUES (new.rowid, new.title, new.customer);
END;
CREATE TRIGGER tickets_ad AFTER DELETE ON tickets BEGIN
    INSERT INTO tickets_fts (tickets_fts, rowid, title, customer)
    VALUES ('delete', old.rowid, old.title, old.customer);
END;
CREATE TRIGGER tickets_au AFTER UPDATE OF title, customer ON tickets
WHEN old.title IS NOT new.title OR old.customer IS NOT new.customer BEGIN
    INSERT INTO tickets_fts (tickets_fts, rowid, title, customer)
    VALUES ('delete', old.rowid, old.title, old.customer);
    INSERT INTO tickets_fts (rowid, title, customer) VALUES (new.rowid, new.title, new.customer);
END;

CREATE VIRTUAL TABLE overrides_fts USING fts5(
    justification, content = 'overrides', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER overrides_ai AFTER INSERT ON overrides BEGIN
    INSERT INTO overrides_fts (rowid, justification) VALUES (new.id, new.justification);
END;

CREATE VIRTUAL TABLE reviews_fts USING fts5(
    comment, content = 'reviews', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER reviews_ai AFTER INSERT ON reviews WHEN new.comment IS NOT NULL BEGIN
    INSERT INTO reviews_fts (rowid, comment) VALUES (new.id, new.comment);
END;

-- What was written before this migration.
INSERT INTO tickets_fts (tickets_fts) VALUES ('rebuild');
INSERT INTO overrides_fts (overrides_fts) VALUES ('rebuild');
INSERT INTO reviews_fts (reviews_fts) VALUES ('rebuild');
