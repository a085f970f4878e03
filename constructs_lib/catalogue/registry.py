"""The names under which configuration files find module factories: the catalogue's, and any a team registers.

A configuration entry ``{"module": "company-ca", "caFile": "..."}`` calls the factory registered as
``"company-ca"`` with ``ca_file=...``: options are the factory's keyword-only parameters in camelCase, and a
parameter annotated ``Duration`` takes a duration string such as ``"90s"``, ``"60m"`` or ``"2h"``. Register
before the configuration is parsed (in ``app.py``)::

    from constructs_lib import catalogue

    def company_ca(*, ca_file: str, budget: Duration = Duration.seconds(20)) -> Module: ...

    catalogue.register("company-ca", company_ca)                      # notebook instances
    catalogue.register("studio-company-ca", studio_company_ca, targets={Target.STUDIO})
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from constructs_lib.bundling import Module, Target
from constructs_lib.errors import LifecycleConfigError

_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")
RESERVED_OPTIONS = frozenset({"module"})
"""Parameter names a registered factory may not take (they are keys of the configuration entry itself)."""

_REGISTRY: dict[Target, dict[str, Callable[..., Module]]] = {target: {} for target in Target}
_VIEWS = {target: MappingProxyType(factories) for target, factories in _REGISTRY.items()}


def register(
    name: str,
    factory: Callable[..., Module],
    *,
    targets: Iterable[Target] = (Target.NOTEBOOK_INSTANCE,),
) -> None:
    """Make ``factory`` available to configuration files as ``{"module": name, ...}`` for ``targets``.

    ``factory`` takes keyword-only parameters and returns a ``Module``. Names are unique across targets,
    so that using one in the wrong place can be explained; registering a taken name is an error.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise LifecycleConfigError(
            f"register: name {name!r} is invalid: use 1-48 characters of a-z, 0-9 and '-', starting with a letter "
            "or digit."
        )
    if not callable(factory):
        raise LifecycleConfigError(f"register {name!r}: factory {factory!r} is not callable.")
    wanted = frozenset(targets)
    if not wanted or not all(isinstance(t, Target) for t in wanted):
        raise LifecycleConfigError(f"register {name!r}: give targets as one or more Target values.")
    for target, factories in _REGISTRY.items():
        if name in factories:
            raise LifecycleConfigError(
                f"register {name!r}: the name is already taken (for {target.value}); choose another name."
            )
    for parameter in inspect.signature(factory).parameters.values():
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise LifecycleConfigError(
                f"register {name!r}: parameter {parameter.name!r} is not keyword-only; configuration passes "
                "options by name only (def factory(*, option: str) -> Module)."
            )
        if parameter.name in RESERVED_OPTIONS:
            raise LifecycleConfigError(
                f"register {name!r}: parameter {parameter.name!r} is reserved ({', '.join(sorted(RESERVED_OPTIONS))})."
            )
    for target in wanted:
        _REGISTRY[target][name] = factory


def registered(target: Target) -> Mapping[str, Callable[..., Module]]:
    """A read-only, live view of the factories registered for ``target``, by name."""
    return _VIEWS[target]
