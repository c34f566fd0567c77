-- A message with what analysis says of it: its canary's label, template, campaign and
-- category. One definition for the dashboard's tables, exports and evidence reports.
CREATE VIEW message_details AS
SELECT m.*, c.label AS canary, t.template_id AS template, mc.campaign_id AS campaign,
       tp.category
FROM messages m
LEFT JOIN canaries c ON c.id = m.canary_id
LEFT JOIN message_templates t ON t.message_id = m.id
LEFT JOIN message_campaigns mc ON mc.message_id = m.id
LEFT JOIN templates tp ON tp.id = t.template_id;
