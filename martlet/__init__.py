"""martlet: an object storage cluster speaking the OpenStack Swift API.

This package is the shared kernel: CLI, config loading, timestamps, errors,
logging, path hashing and the backend HTTP client. Only the CLI and the
dev-cluster launcher import the components (ring, storage, proxy, replicator).
"""

__version__ = "0.1.0"
