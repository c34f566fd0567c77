"""Reading received messages from the formats phones and mail programs export."""
