-- A source's own channels found in the messages (first-party inference): a signature,
-- a sender, a mail domain or a link domain that names a source the canary was
-- planted at, or the sender of a verification code just after a plant. Messages
-- through a channel that is not rejected are first-party, like those through the
-- sender IDs and signatures a user gives (which win over any inference).
CREATE SEQUENCE source_channel_id_seq;
CREATE TABLE source_channels (
    id          BIGINT PRIMARY KEY DEFAULT nextval('source_channel_id_seq'),
    source_id   BIGINT NOT NULL,
    kind        VARCHAR NOT NULL,      -- signature | sender | domain (mail sender) | link
    value       VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,      -- inferred | confirmed | rejected
    rule        VARCHAR NOT NULL,      -- what showed it (see attribution/first_party.py)
    reason      VARCHAR NOT NULL,
    message_id  BIGINT,                -- the first message that showed it
    found_at    TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    reviewed_at TIMESTAMPTZ,
    UNIQUE (source_id, kind, value)
);

-- How far inference has looked: messages up to last_message_id, under the roster
-- whose fingerprint is kept and with those messages given to the canaries they were
-- (a new plant or source, or quarantined messages assigned, send it over all again).
CREATE TABLE first_party_state (
    roster           VARCHAR NOT NULL,
    last_message_id  BIGINT NOT NULL,
    assigned         VARCHAR NOT NULL
);
