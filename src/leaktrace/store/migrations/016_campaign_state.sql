-- Campaigns are kept up to date rather than recomputed: what linking extracted from each
-- clustered message stays, so new messages are linked without reading the old ones, and
-- a campaign keeps its id from run to run.

-- Every indicator of every clustered message, once per message, with the node it belongs
-- to: indicators naming the same thing (a link host and a mail domain) share the
-- namespace and key.
CREATE TABLE message_indicators (
    message_id  BIGINT NOT NULL,
    kind        VARCHAR NOT NULL,
    value       VARCHAR NOT NULL,
    ns          VARCHAR NOT NULL,
    key         VARCHAR NOT NULL
);

-- One row per node: its number (in order of its first message), the templates it was
-- seen with store-wide, whether it links messages, and (when it links) its campaign.
CREATE TABLE indicator_nodes (
    ns             VARCHAR NOT NULL,
    key            VARCHAR NOT NULL,
    node           BIGINT NOT NULL,
    first_message  BIGINT NOT NULL,
    templates      BIGINT NOT NULL,
    links          BOOLEAN NOT NULL,
    campaign_id    BIGINT
);

-- A campaign that new messages joined to an older one, or whose messages moved to
-- another campaign when linking was redone: its id leads to where they are now.
CREATE TABLE campaign_merges (
    id          BIGINT PRIMARY KEY,
    into_id     BIGINT NOT NULL,
    merged_at   TIMESTAMPTZ NOT NULL
);


-- The templates each node was seen with (its specificity), kept so a new message
-- updates a node's count without reading its old messages.
CREATE TABLE node_templates (
    ns           VARCHAR NOT NULL,
    key          VARCHAR NOT NULL,
    template_id  BIGINT NOT NULL
);

-- How many messages of each template a campaign holds: its template count and its
-- category (the category most of its messages have) follow from it.
CREATE TABLE campaign_templates (
    campaign_id  BIGINT NOT NULL,
    template_id  BIGINT NOT NULL,
    messages     BIGINT NOT NULL
);

-- The node a listed indicator belongs to, so its store-wide template count is updated
-- in every campaign listing it.
ALTER TABLE campaign_indicators ADD COLUMN ns VARCHAR;
ALTER TABLE campaign_indicators ADD COLUMN key VARCHAR;
