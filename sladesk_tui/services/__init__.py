"""Long-running services: the webhook receiver (docs/sources.md)."""
