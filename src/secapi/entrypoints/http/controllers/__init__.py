"""Thin controllers: convert, call one use case, convert back."""
