-- Templates merged by hand point at the template that absorbed them; incremental
-- clustering sends whatever would have joined them there.
ALTER TABLE templates ADD COLUMN merged_into BIGINT;
