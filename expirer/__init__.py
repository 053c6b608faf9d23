"""The object expirer: deletes objects past their ``X-Delete-At`` from the
queue the object servers keep in the hidden account ``.expiring_objects``.

``expirer.plan`` is the pure part (names, due tasks, who does which, what
answers mean), ``expirer.daemon`` the async shell, ``expirer.cli``
the ``martlet expirer`` command and the daemon ``martlet node`` runs.
"""
