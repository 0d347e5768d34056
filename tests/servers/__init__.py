"""Real third-party servers for integration tests: config in a temporary folder, loopback only."""
