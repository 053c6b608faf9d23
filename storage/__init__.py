"""The storage daemon: object, container and account servers over local devices.

One aiohttp process serves every device under a devices root
(``storage.server.create_app``). Objects live as files under
``<dev>/objects/`` (``storage.diskfile`` states the on-disk contract);
containers and accounts as SQLite databases under ``<dev>/containers/`` and
``<dev>/accounts/``.
"""
