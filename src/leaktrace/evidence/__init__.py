"""Evidence: reports (data, HTML, charts, PDF), complaint drafts, exports, packs and verify."""
