-- The canary roster: where canaries were planted, under which persona and marker.
CREATE SEQUENCE source_id_seq;
CREATE TABLE sources (
    id          BIGINT PRIMARY KEY DEFAULT nextval('source_id_seq'),
    name        VARCHAR NOT NULL UNIQUE,
    category    VARCHAR NOT NULL,
    url         VARCHAR,
    sender_ids  VARCHAR[] NOT NULL DEFAULT [],   -- short codes, 106 numbers, mail domains it sends from
    signatures  VARCHAR[] NOT NULL DEFAULT [],   -- 【平台名】 signatures it signs its own SMS with
    notes       VARCHAR,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

CREATE SEQUENCE canary_id_seq;
CREATE TABLE canaries (
    id          BIGINT PRIMARY KEY DEFAULT nextval('canary_id_seq'),
    label       VARCHAR NOT NULL UNIQUE,
    is_control  BOOLEAN NOT NULL DEFAULT false,
    locale      VARCHAR NOT NULL,
    seed        BIGINT,
    name        VARCHAR NOT NULL,
    gender      VARCHAR,
    birth_date  DATE,
    id_number   VARCHAR,
    company     VARCHAR,
    address     VARCHAR,
    phone       VARCHAR UNIQUE,   -- E.164; a number the user controls, never one Faker made up
    email       VARCHAR UNIQUE,   -- lower-cased; an address the user controls
    created_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- Controls are canaries that are never planted; they measure background spam.
CREATE VIEW controls AS SELECT * FROM canaries WHERE is_control;

CREATE SEQUENCE plant_id_seq;
CREATE TABLE plants (
    id          BIGINT PRIMARY KEY DEFAULT nextval('plant_id_seq'),
    canary_id   BIGINT NOT NULL REFERENCES canaries (id),
    source_id   BIGINT NOT NULL REFERENCES sources (id),
    planted_at  TIMESTAMPTZ NOT NULL,
    fields      VARCHAR[] NOT NULL,
    name_used   VARCHAR,          -- the spelling of the persona's name given to this source
    email_used  VARCHAR,          -- the e-mail given, with its plus-tag
    marker      VARCHAR,          -- what is unique to this plant (name variant and/or plus-tag)
    notes       VARCHAR,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    UNIQUE (canary_id, source_id)
);
