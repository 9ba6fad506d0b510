"""SecAPI's domain: entities, tier policy, services and the ports they need.

Nothing in this package imports a framework or an adapter; the layering
contract in pyproject.toml enforces it.
"""
