"""Campaigns: templates and messages linked by shared sender, host, reply code or signature."""
