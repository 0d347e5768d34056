"""Fixtures for the scaled mode: private PostgreSQL and Redis servers, and the cluster itself."""
