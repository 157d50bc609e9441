"""Real GNS3 server fixtures (filled in by the harness work)."""
