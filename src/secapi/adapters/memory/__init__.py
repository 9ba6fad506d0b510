"""In-process adapters: the embedded default (no Redis) and unit tests."""
