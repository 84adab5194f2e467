"""tlspipe.client."""
