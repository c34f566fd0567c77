-- The unit attribution counts a message under: its campaign, or its template when
-- no campaign holds it. One definition for attribution, evidence and the dashboard.
CREATE VIEW message_units AS
SELECT t.message_id, coalesce('c' || mc.campaign_id, 't' || t.template_id) AS unit, t.slots
FROM message_templates t
LEFT JOIN message_campaigns mc ON mc.message_id = t.message_id;
