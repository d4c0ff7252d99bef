"""In-memory fakes of the service's ports, for fast tests; they keep the real adapters' contracts."""
