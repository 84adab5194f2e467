"""tlspipe.record."""
