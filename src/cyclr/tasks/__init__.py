"""``cyclr.tasks``: another name for :mod:`cyclr.reproduce.tasks`, the bundled demo tasks.

The tasks moved under the experiment that uses them. This module makes the old
name and the real one the same module object (submodules included), so a task
registered, or a registry patched in a test, through either name is seen
through both.
"""

import sys

from cyclr.reproduce import tasks as _tasks
from cyclr.reproduce.tasks import _base, digits, mnist

for _module in (_base, digits, mnist):
    sys.modules[f"{__name__}.{_module.__name__.rpartition('.')[2]}"] = _module
sys.modules[__name__] = _tasks
