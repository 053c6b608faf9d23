"""Background daemons of a storage node: replication, auditing, and the
updater that replays queued container and account updates
(``replicator.updater``)."""
