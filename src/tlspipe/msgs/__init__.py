"""tlspipe.msgs."""
