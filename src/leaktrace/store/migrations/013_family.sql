-- Attribution tests a family of (unit, source) pairs chosen from the margins (Tarone);
-- each pair keeps the hits expected under the null and whether it was in the family.
ALTER TABLE unit_exposures ADD COLUMN expected DOUBLE NOT NULL DEFAULT 0;
ALTER TABLE unit_exposures ADD COLUMN tested BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE attribution_runs ADD COLUMN family BIGINT NOT NULL DEFAULT 0;
-- Reports kept by earlier versions lack the family; the next analysis writes them again.
DELETE FROM source_verdicts;
DELETE FROM unit_exposures;
DELETE FROM source_overlap;
DELETE FROM attribution_runs;
