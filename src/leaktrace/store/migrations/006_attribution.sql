-- Attribution results: replaced as a whole by each run (`leaktrace attribute`).
CREATE TABLE attribution_runs (
    computed_at  TIMESTAMPTZ NOT NULL,
    as_of        TIMESTAMPTZ,               -- the study's last message at the time
    controls     BIGINT NOT NULL,
    background   VARCHAR[] NOT NULL,        -- units reaching the controls: not tested
    settings     JSON NOT NULL
);

-- One row per source; `report` plus `evidence` is the object `leaktrace attribute
-- --json` prints (the ids are kept apart: thousands per source on a big study).
CREATE TABLE source_verdicts (
    source_id    BIGINT PRIMARY KEY,
    verdict      VARCHAR NOT NULL,          -- leaked | suspected | clean | insufficient data
    score        DOUBLE NOT NULL,
    p_value      DOUBLE,
    report       JSON NOT NULL,
    evidence     BIGINT[] NOT NULL          -- evidence_message_ids
);

-- Every (unit, source) pair tested: the heatmap of exposure.
CREATE TABLE unit_exposures (
    unit          VARCHAR NOT NULL,         -- c<campaign id> or t<template id>
    source_id     BIGINT NOT NULL,
    planted       BIGINT NOT NULL,
    hit           BIGINT NOT NULL,
    others        BIGINT NOT NULL,
    others_hit    BIGINT NOT NULL,
    controls_hit  BIGINT NOT NULL,
    p_value       DOUBLE NOT NULL,
    q_value       DOUBLE NOT NULL,          -- Benjamini–Hochberg adjusted
    lift          DOUBLE NOT NULL,
    significant   BOOLEAN NOT NULL,
    hit_canaries  BIGINT[] NOT NULL
);

-- Sources reached by the same significant units: a shared downstream buyer.
CREATE TABLE source_overlap (
    source_a  BIGINT NOT NULL,
    source_b  BIGINT NOT NULL,
    units     VARCHAR[] NOT NULL
);
