"""Fixtures for the scaled mode: private PostgreSQL and Redis servers, and the cluster itself."""

from tests.cluster.cluster_fixture import cluster, cluster_home  # noqa: F401 - fixtures
