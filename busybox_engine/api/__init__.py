"""dockerd's Docker Engine API server."""
