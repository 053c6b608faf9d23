"""The proxy: the public Swift API of martlet.

It authenticates requests, checks Swift's constraints, and fans each request
out to the storage daemons that the rings name, over the cluster-internal
HTTP API (``martlet.backend``). It keeps no state of its own beyond caches:
tokens are self-contained and signed, rings are read from disk.
"""
