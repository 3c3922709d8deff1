"""The round trip: send a message, read it back, and the path it took."""
