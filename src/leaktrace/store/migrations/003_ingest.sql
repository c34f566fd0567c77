-- Ingestion: import batches, raw records, first-party flags and the quarantine.
-- No release wrote to the 002 messages table, so it is replaced rather than altered.
DROP TABLE messages;

CREATE SEQUENCE import_batch_id_seq;
CREATE TABLE import_batches (
    id           BIGINT PRIMARY KEY DEFAULT nextval('import_batch_id_seq'),
    format       VARCHAR NOT NULL,     -- smsbackup | ios | mbox | eml | csv | jsonl | inbox
    file_name    VARCHAR NOT NULL,
    file_size    BIGINT NOT NULL,
    file_sha256  VARCHAR NOT NULL,
    options      VARCHAR,              -- JSON: recipient, sub ids, zone, encoding as applied
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ NOT NULL,
    inserted     BIGINT NOT NULL,
    duplicate    BIGINT NOT NULL,
    skipped      BIGINT NOT NULL,
    rejected     BIGINT NOT NULL,
    quarantined  BIGINT NOT NULL,
    notes        VARCHAR               -- where a truncated file stopped, the zone applied
);

-- canary_id and batch_id are kept consistent by the importer; DuckDB foreign keys
-- would turn the quarantine's "assign" UPDATE into a delete + insert.
CREATE TABLE messages (
    id           BIGINT PRIMARY KEY DEFAULT nextval('message_id_seq'),
    message_key  UHUGEINT NOT NULL UNIQUE,  -- stable key (128 bits of SHA-256): re-imports add nothing
    batch_id     BIGINT NOT NULL,           -- the import batch it arrived in
    channel      VARCHAR NOT NULL,          -- sms | email
    recipient    VARCHAR NOT NULL,          -- the contact as received (E.164 or e-mail)
    canary_id    BIGINT,                    -- NULL: unknown recipient, in quarantine
    sender       VARCHAR NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    subject      VARCHAR,
    body         VARCHAR NOT NULL,
    signature    VARCHAR,                   -- the 【…】 / […] signature, split off at import
    first_party  BOOLEAN NOT NULL DEFAULT false,
    own_id       VARCHAR,                   -- the format's id: iOS guid, MessageSid, Message-ID
    headers      VARCHAR,                   -- e-mail: JSON of From, Return-Path, Authentication-Results…
    position     VARCHAR,                   -- where the record stood in its file
    raw          VARCHAR NOT NULL,          -- the record as imported
    raw_sha256   VARCHAR NOT NULL,
    imported_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

CREATE VIEW quarantine AS SELECT * FROM messages WHERE canary_id IS NULL;
