-- Alerts: where to send them, what changed, and what each target was sent
-- (see src/leaktrace/alerts/ for what counts as a change).

-- Where alerts go. `options` holds the SMTP host, port, user, sender and TLS choice, or
-- the name of an environment variable holding a password or token: never a secret.
CREATE SEQUENCE alert_target_id_seq;
CREATE TABLE alert_targets (
    id          BIGINT PRIMARY KEY DEFAULT nextval('alert_target_id_seq'),
    kind        VARCHAR NOT NULL,      -- webhook | ntfy | slack | email
    address     VARCHAR NOT NULL,      -- a URL, or an e-mail address
    options     JSON NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    enabled     BOOLEAN NOT NULL DEFAULT true
);

-- The verdict each source had when alerts last looked: a verdict that differs from it
-- is a change.
CREATE TABLE alert_verdicts (
    source_id  BIGINT PRIMARY KEY,
    verdict    VARCHAR NOT NULL,
    seen_at    TIMESTAMPTZ NOT NULL
);

-- The outbox: one row per change, under a key that names the change, so it is never
-- queued twice.
CREATE SEQUENCE alert_id_seq;
CREATE TABLE alerts (
    id          BIGINT PRIMARY KEY DEFAULT nextval('alert_id_seq'),
    key         VARCHAR NOT NULL UNIQUE,   -- verdict:<source>:<verdict>:<n> | campaign:<unit>:<source>
    event       VARCHAR NOT NULL,          -- verdict | campaign
    source_id   BIGINT NOT NULL,
    unit        VARCHAR,                   -- the campaign (c<id>) or template (t<id>) of a campaign alert
    payload     JSON NOT NULL,             -- what every target is sent (title, text, reason, ...)
    created_at  TIMESTAMPTZ NOT NULL
);

-- Per alert and target: whether it was delivered, and how the tries went. A delivery
-- is claimed while it is being sent, so two processes never send it both.
CREATE TABLE alert_deliveries (
    alert_id       BIGINT NOT NULL,
    target_id      BIGINT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     VARCHAR,
    last_try_at    TIMESTAMPTZ,
    delivered_at   TIMESTAMPTZ,
    claimed_until  TIMESTAMPTZ,
    PRIMARY KEY (alert_id, target_id)
);
