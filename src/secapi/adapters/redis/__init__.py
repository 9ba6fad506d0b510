"""Redis adapters: client construction, health, and (later) cache, limiter and queue."""
