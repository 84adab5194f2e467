"""tlspipe.server."""
