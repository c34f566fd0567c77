-- Tamper evidence: a SHA-256 hash chain over messages in import (id) order.
-- record_sha256 covers a message's evidence fields (see leaktrace.store.chain);
-- chain_sha256 = SHA-256(previous chain_sha256 || record_sha256), starting from zeros.
-- Rows are appended by the import that inserts the message, in the same transaction.
CREATE TABLE message_chain (
    message_id     BIGINT PRIMARY KEY,
    record_sha256  VARCHAR NOT NULL,
    chain_sha256   VARCHAR NOT NULL
);
