"""Operator tooling: the ``martlet`` command itself (``ops.main``, the one
module that imports every component's ``cli``), cluster set-up
(``martlet ring-init``, shared with ``martlet dev``), the cluster report
(``martlet status``) and the dev cluster (``martlet dev``). Otherwise uses
``ring/`` and ``martlet/`` only; reaches storage nodes over HTTP and runs
daemons as processes."""
