-- One name per idea: the Benjamini–Hochberg adjusted p-value is `p_adjusted` in the
-- tables, the JSON reports, the exports and the dashboard (it was p_value / q_value).
ALTER TABLE source_verdicts RENAME COLUMN p_value TO p_adjusted;
ALTER TABLE unit_exposures RENAME COLUMN q_value TO p_adjusted;
-- Reports kept by earlier versions use the old field names; the next analysis
-- (any import, `leaktrace attribute`) writes them again.
DELETE FROM source_verdicts;
DELETE FROM unit_exposures;
DELETE FROM source_overlap;
DELETE FROM attribution_runs;
