-- The spellings each source's own messages name it by (name, pinyin, its URL's domain
-- label), as first-party inference derived them from the name and URL kept beside them;
-- derived again only when those change (the pinyin dictionaries take a second to load).
CREATE TABLE source_name_forms (
    source_id  BIGINT PRIMARY KEY,
    name       VARCHAR NOT NULL,
    url        VARCHAR,
    forms      VARCHAR[] NOT NULL,
    domain     VARCHAR,              -- the URL's registrable domain
    rules      VARCHAR NOT NULL      -- the version of the rules that derived them
);
