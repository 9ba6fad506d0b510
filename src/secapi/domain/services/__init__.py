"""Use cases: each service takes its ports in the constructor and knows no framework."""
