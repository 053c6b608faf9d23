"""Container and account databases (SQLite), split by concept:
``broker`` (files, transactions, metadata, status), ``container`` (object
rows and stats reporting), ``account`` (container rows and totals)."""

from storage.db.account import AccountBroker, AccountInfo, ContainerUpdate
from storage.db.broker import DatabaseBroker, db_file, db_path, merge_metadata, visible_metadata
from storage.db.container import AccountTarget, ContainerBroker, ContainerInfo, ObjectUpdate

__all__ = [
    "AccountBroker",
    "AccountInfo",
    "AccountTarget",
    "ContainerBroker",
    "ContainerInfo",
    "ContainerUpdate",
    "DatabaseBroker",
    "ObjectUpdate",
    "db_file",
    "db_path",
    "merge_metadata",
    "visible_metadata",
]
