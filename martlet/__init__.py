"""martlet: an object storage cluster speaking the OpenStack Swift API.

This package is the shared kernel: config loading, timestamps, errors,
logging, path hashing, the backend HTTP client and what else two components
share. It imports nothing of ours outside itself; the ``martlet`` command that
puts the components together is ``ops.main`` (tests/unit/test_imports.py).
"""

__version__ = "0.1.0"
