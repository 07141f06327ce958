"""Prometheus metrics of the API and the outbox relay (docs/operations.md, "Metrics")."""
