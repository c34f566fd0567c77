-- Campaigns: messages linked through shared sending infrastructure. Recomputed as a
-- whole after each clustering run (it is a few SQL passes over the slots).
CREATE TABLE campaigns (
    id          BIGINT PRIMARY KEY,        -- in order of the campaign's first message
    label       VARCHAR NOT NULL,          -- its most common signature and linking indicator
    size        BIGINT NOT NULL,           -- messages
    templates   BIGINT NOT NULL,
    first_seen  TIMESTAMPTZ,
    last_seen   TIMESTAMPTZ,
    category    VARCHAR                    -- the category most of its messages' templates have
);

CREATE TABLE message_campaigns (
    message_id   BIGINT PRIMARY KEY,
    campaign_id  BIGINT NOT NULL
);

-- Every indicator seen in a campaign's messages. `links` says whether it joined
-- messages: an indicator seen with more templates than the specificity limit is
-- shared infrastructure (an aggregator, a public short-link host) and only listed.
CREATE TABLE campaign_indicators (
    campaign_id  BIGINT NOT NULL,
    kind         VARCHAR NOT NULL,         -- channel | channel_signature | sender | sender_domain | url_host | callback | wechat | qq | email | signature | reply
    value        VARCHAR NOT NULL,
    messages     BIGINT NOT NULL,          -- of this campaign's messages carrying it
    templates    BIGINT NOT NULL,          -- distinct templates it was seen with, store-wide
    links        BOOLEAN NOT NULL
);

-- Why messages were linked: two linking indicators seen together in `messages` messages.
CREATE TABLE campaign_links (
    campaign_id  BIGINT NOT NULL,
    kind_a       VARCHAR NOT NULL,
    value_a      VARCHAR NOT NULL,
    kind_b       VARCHAR NOT NULL,
    value_b      VARCHAR NOT NULL,
    messages     BIGINT NOT NULL
);

