"""Suite-wide settings.

Under CI (``CI`` set, as `.ci/run` is run) hypothesis draws the same examples
every run, so a submission is judged on a fixed set of cases rather than on
the luck of the draw; a developer's run explores new ones each time, and a
failure it finds is pinned with ``@example`` in the test that found it.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
