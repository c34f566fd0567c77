-- A unit shows a leak when its family-wise (Holm) adjusted p is small: `p_adjusted` now
-- holds that; the Benjamini–Hochberg q, which only makes a source suspected, is kept beside it.
ALTER TABLE unit_exposures ADD COLUMN q_value DOUBLE NOT NULL DEFAULT 1;
-- Reports kept by earlier versions were judged by the false-discovery rate; the next
-- analysis writes them again.
DELETE FROM source_verdicts;
DELETE FROM unit_exposures;
DELETE FROM source_overlap;
DELETE FROM attribution_runs;
