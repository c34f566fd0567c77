"""Templates: the pure clustering index and its store side (clustering, listing, hand edits)."""
