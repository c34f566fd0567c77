"""Message text: normalisation, typed slot masking, and the pieces templates are made of."""
