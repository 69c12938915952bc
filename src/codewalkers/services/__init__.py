"""Use cases: what the CLI and the server do, each in one transaction where it writes."""
