"""tlspipe.crypto."""
