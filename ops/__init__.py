"""Operator tooling: cluster set-up (``martlet ring-init``, shared with
``martlet dev``) and the cluster report (``martlet status``). Uses ``ring/``
and ``martlet/``; reaches storage nodes only over HTTP."""
