"""The dashboard pages, one script per screen."""
