"""The simulator of studies (world, texts, writers, scoring) and the demo study."""
