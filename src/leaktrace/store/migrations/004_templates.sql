-- Templates: the clustering's state, kept so new messages join without re-clustering.
CREATE TABLE templates (
    id          BIGINT PRIMARY KEY,        -- in order of founding; stable across runs
    text        VARCHAR NOT NULL,          -- representative skeleton: 【<SIG>】尊敬的<NAME>,…
    size        BIGINT NOT NULL DEFAULT 0,
    first_seen  TIMESTAMPTZ,
    last_seen   TIMESTAMPTZ,
    category    VARCHAR,                   -- loan | gambling | fraud | marketing | verification | other
    category_confidence DOUBLE
);

-- Every distinct skeleton seen and the template it joined.
CREATE TABLE template_skeletons (
    skeleton     VARCHAR PRIMARY KEY,
    template_id  BIGINT NOT NULL
);

-- Each clustered message: its template, skeleton, signature and slot values (evidence).
CREATE TABLE message_templates (
    message_id   BIGINT PRIMARY KEY,
    template_id  BIGINT NOT NULL,
    skeleton     VARCHAR NOT NULL,
    signature    VARCHAR,
    slots        VARCHAR NOT NULL          -- JSON [[kind, value], …] in text order
);

CREATE TABLE clustering_settings (
    name   VARCHAR PRIMARY KEY,
    value  VARCHAR NOT NULL
);
