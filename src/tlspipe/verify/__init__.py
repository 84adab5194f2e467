"""tlspipe.verify."""
