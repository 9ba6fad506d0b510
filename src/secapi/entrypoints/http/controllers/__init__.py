"""Thin controllers: convert, call one use case, convert back."""

API_PREFIX = "/api/v1"
"""Where the controllers are mounted (`entrypoints/http/api_router.py`); their own paths are relative to it."""
