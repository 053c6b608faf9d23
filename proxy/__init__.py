"""The proxy: the public Swift API of martlet.

It authenticates requests, checks Swift's constraints, and fans each request
out to the storage daemons that the rings name, over the cluster-internal
HTTP API (``martlet.backend``). It keeps no state of its own beyond caches:
tokens are self-contained and signed, rings are read from disk.

Layers, each importing only those below it: the app (``app``: routes, start
and stop) runs each ``/v1/`` request down the pipeline (``pipeline``):
optional features (``server_copy``, ``large_objects``) around the core
controllers (``controllers``); both use the shared services — who may do
what (``access``) and the replicas of an entity (``replicas``, over
``fanout`` and ``object_stream``) — and the pure rules beneath them
(``acl``, ``constraints``, ``headers``, ``quorum``, ``error_limiter``).
"""
