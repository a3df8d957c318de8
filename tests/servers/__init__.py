"""Real servers started by tests and benchmarks: plain code, no pytest."""
