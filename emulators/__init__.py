"""Local stand-ins for tests and the demo (never deployed): Graph, the reference ERP, a Functions host."""
