"""The demo study in real export formats, with its ground truth (leaktrace.sample_data)."""
