"""tlspipe.keys."""
