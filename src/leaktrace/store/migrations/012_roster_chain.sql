-- Tamper evidence for the roster facts a verdict rests on: each source (its sender IDs
-- and signatures decide first-party), canary (its contacts) and plant (when, which
-- fields, which marker) gets a record digest, linked in the order they were added
-- (see leaktrace.store.roster_chain). Rows are appended in the transaction that adds them.
CREATE TABLE roster_chain (
    seq            BIGINT PRIMARY KEY,
    kind           VARCHAR NOT NULL,
    row_id         BIGINT NOT NULL,
    record_sha256  VARCHAR NOT NULL,
    chain_sha256   VARCHAR NOT NULL,
    UNIQUE (kind, row_id)
);
