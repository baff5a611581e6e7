"""Packages whose names load on first use (PEP 562), so that importing one of their modules, or the
package for one name, does not import everything the package can do."""

from __future__ import annotations

from typing import Callable


def lazy_names(package: dict, exports: dict[str, tuple[str, ...]], load: Callable[[str], object]):
    """(`__all__`, `__getattr__`) for a package's namespace `package` (its `globals()`): each name of
    `exports` ({module: names}) is taken from `load(module)` when first asked for, then kept."""
    if any(isinstance(names, str) for names in exports.values()):
        raise TypeError("lazy_names: each module's names are a tuple of names, not one string")
    home = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        if name not in home:
            raise AttributeError(f"module {package['__name__']!r} has no attribute {name!r}")
        value = getattr(load(home[name]), name)
        package[name] = value
        return value

    return sorted(home), __getattr__
