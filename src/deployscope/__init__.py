"""Deployscope: plan how to run generative AI on your own terms.

The public API is flat: ``from deployscope import Catalog`` and friends.
"""

from typing import TYPE_CHECKING, Any

from .catalog import Catalog, default_catalog
from .errors import CatalogError, DeployscopeError, UnknownName

if TYPE_CHECKING:  # imported lazily below so that `import deployscope` stays fast
    from .planner import plan
    from .result import Plan
    from .scenario import Scenario, load_scenario

from ._version import __version__

__all__ = [
    "Catalog",
    "CatalogError",
    "DeployscopeError",
    "Plan",
    "Scenario",
    "UnknownName",
    "default_catalog",
    "load_scenario",
    "plan",
    "__version__",
]

_LAZY = {"plan": ".planner", "Plan": ".result", "Scenario": ".scenario", "load_scenario": ".scenario"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'deployscope' has no attribute {name!r}")
