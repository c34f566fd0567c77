"""Data files of the package: lexicons, slot patterns, simulator texts, report templates."""
