"""A node function with some keyword arguments fixed, that keeps its name in every process.

`functools.partial` + `update_wrapper` keeps `__name__` for Kedro and kedro-viz, but multiprocessing pickles a
partial without its `__dict__` (`multiprocessing.reduction._reduce_partial`), so under `ParallelRunner` every
worker would see a nameless partial and Kedro would warn once per node. This small class pickles whole, and carries what
`typing.get_type_hints` reads (`__annotations__` less the bound arguments, `__wrapped__` for the function's module
globals), so Kedro's parameter validation reads its hints like a plain function's instead of warning per node.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any


class BoundFunction:
    """`func` with `bound` keyword arguments fixed; named, documented and signed like `func` minus those."""

    def __init__(self, func: Callable[..., Any], **bound: Any) -> None:
        self.func, self.bound = func, bound
        self.__name__, self.__qualname__ = func.__name__, func.__qualname__
        self.__module__, self.__doc__ = func.__module__, func.__doc__
        self.__signature__ = inspect.signature(functools.partial(func, **bound))
        self.__annotations__ = {k: v for k, v in getattr(func, "__annotations__", {}).items() if k not in bound}
        self.__wrapped__ = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **self.bound, **kwargs)

    def __repr__(self) -> str:
        fixed = ", ".join(f"{k}={v!r}" for k, v in self.bound.items())
        return f"{self.__name__}({fixed}, ...)"
