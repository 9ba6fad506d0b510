"""Entrypoints: the HTTP app, the CLI and the worker."""
