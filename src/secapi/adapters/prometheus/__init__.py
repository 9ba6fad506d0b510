"""Prometheus adapters: the `MetricsSink`, HTTP and pool metrics, and their exposition (one process or several)."""
