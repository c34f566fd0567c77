"""One reader per export format: SMS Backup & Restore, iOS sms.db, mail, CSV/JSON lines."""
