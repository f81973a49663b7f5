"""Long-running services on top of the store: the receiver, the puller, the notifier."""
