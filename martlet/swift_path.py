"""The one record of "which account, container or object" a request names.

The proxy decodes it from ``/v1/<account>[/<container>[/<object>]]``, the
storage daemon from ``/<dev>/<part>/<account>[/...]``; authorization, the
ring, backend paths and listings all speak of the same three names, so they
share this record instead of each keeping its own copy of the fields.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SwiftPath:
    """``account[/container[/obj]]``, decoded; ``obj`` keeps its slashes.

    A container is set whenever an object is.
    """

    account: str
    container: str | None = None
    obj: str | None = None

    @property
    def kind(self) -> str:
        """``"account"``, ``"container"`` or ``"object"``."""
        if self.obj is not None:
            return "object"
        return "container" if self.container is not None else "account"

    @property
    def depth(self) -> int:
        """How many names it has: 1 for an account, 3 for an object."""
        return 1 + (self.container is not None) + (self.obj is not None)

    def account_path(self) -> SwiftPath:
        return SwiftPath(self.account)

    def container_path(self) -> SwiftPath:
        """The container this path is in (itself for a container); account paths have none."""
        if self.container is None:
            raise ValueError("an account path names no container")
        return SwiftPath(self.account, self.container)

    def __str__(self) -> str:
        return "/".join(p for p in (self.account, self.container, self.obj) if p is not None)
