"""A running GNS3 server: the REST client, node consoles, and pushing a built archive."""
