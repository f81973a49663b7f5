"""Long-running services: the webhook receiver (docs/sources.md) and the history puller (docs/pull.md)."""
