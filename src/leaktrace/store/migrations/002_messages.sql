-- Received messages. Ingestion (formats, import batches, quarantine) extends this table.
CREATE SEQUENCE message_id_seq;
CREATE TABLE messages (
    id           BIGINT PRIMARY KEY DEFAULT nextval('message_id_seq'),
    message_key  VARCHAR NOT NULL UNIQUE,   -- stable content key: re-imports add nothing
    channel      VARCHAR NOT NULL,          -- sms | email | call
    recipient    VARCHAR NOT NULL,          -- the contact as received (E.164 or e-mail)
    canary_id    BIGINT REFERENCES canaries (id),
    sender       VARCHAR,
    received_at  TIMESTAMPTZ NOT NULL,
    subject      VARCHAR,
    body         VARCHAR NOT NULL,
    first_party  BOOLEAN NOT NULL DEFAULT false,
    imported_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
