"""Parameter schemas: declared once per layer type, read by the inspector,
the validator, the file loader and the code emitter alike."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from graph import expr

# types: int, float, bool, choice, int_or_same (Conv2d padding), opt_int (None allowed),
# shape (list of ints), floats (list of floats)
PARAM_TYPES = ("int", "float", "bool", "choice", "int_or_same", "opt_int", "shape", "floats")
MAX_INT = 1 << 20


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: str
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple = ()
    doc: str = ""
    unit: str = ""
    pair: bool = False  # also takes (height, width), such as a 1x7 kernel: [1, 7] in the file

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ValueError(f"unknown parameter type {self.type!r}")
        if self.pair and self.type not in ("int", "int_or_same", "opt_int"):
            raise ValueError(f"{self.name}: only whole-number parameters take pairs")

    @property
    def accepts_expression(self) -> bool:
        return self.type in ("int", "int_or_same", "opt_int")


class ParamError(ValueError):
    """A bad parameter value. ``unknown``/``known``: an expression's unknown name and the names it may use."""

    unknown: str | None = None
    known: tuple[str, ...] = ()


def _num(value: float) -> str:
    """Whole numbers as written (1048576), others short (0.001, 1e+30)."""
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e16):
        return str(int(value)) if abs(value) < 10**16 else f"{value:.3g}"
    return f"{value:g}"


def _check_range(spec: ParamSpec, value: float) -> None:
    lo = spec.min
    hi = spec.max if spec.max is not None else (MAX_INT if spec.type != "float" else None)
    if lo is not None and value < lo:
        raise ParamError(f"{spec.name} must be at least {_num(lo)}, got {_num(value)}")
    if hi is not None and value > hi:
        raise ParamError(f"{spec.name} must be at most {_num(hi)}, got {_num(value)}")


def check_value(spec: ParamSpec, value: Any) -> Any:
    """Check a *resolved* value (expressions already evaluated); returns it normalised."""
    t = spec.type
    if t == "bool":
        if not isinstance(value, bool):
            raise ParamError(f"{spec.name} must be true or false, got {value!r}")
        return value
    if t == "choice":
        if value not in spec.choices:
            raise ParamError(f"{spec.name} must be one of {', '.join(map(str, spec.choices))}; got {value!r}")
        return value
    if t == "opt_int" and value is None:
        return None
    if spec.pair and isinstance(value, (list, tuple)):
        return _check_pair(spec, value)
    if t == "int_or_same" and value in ("same", "valid"):
        return value
    if t in ("int", "int_or_same", "opt_int"):
        return _check_int(spec, value)
    if t == "float":
        return _check_float(spec, value)
    if t == "shape":
        return _check_shape(spec, value)
    if t == "floats":
        return _check_floats(spec, value)
    raise AssertionError(t)  # pragma: no cover


def _check_int(spec: ParamSpec, value: Any) -> int:
    """A whole number in range; a float with no fraction (3.0) becomes that int."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ParamError(f"{spec.name} must be a whole number, got {value!r}")
    _check_range(spec, value)
    return value


def _check_float(spec: ParamSpec, value: Any) -> float:
    """A finite number in range, as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParamError(f"{spec.name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ParamError(f"{spec.name} must be a finite number, got {value!r}")
    _check_range(spec, value)
    return float(value)


def _check_shape(spec: ParamSpec, value: Any) -> tuple[int, ...]:
    """1 to 3 whole numbers, each between 1 and 100000 (an input shape such as [3, 32, 32])."""
    if (
        not isinstance(value, (list, tuple))
        or not 1 <= len(value) <= 3
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
    ):
        raise ParamError(
            f"{spec.name} must be a list of 1 to 3 whole numbers such as [3, 32, 32], got {value!r}"
        )
    for v in value:
        if not 1 <= v <= 100_000:
            raise ParamError(f"{spec.name} entries must be between 1 and 100000, got {v}")
    return tuple(value)


def _check_floats(spec: ParamSpec, value: Any) -> tuple[float, ...]:
    """A list of numbers, as floats."""
    if not isinstance(value, (list, tuple)) or any(
        isinstance(v, bool) or not isinstance(v, (int, float)) for v in value
    ):
        raise ParamError(f"{spec.name} must be a list of numbers, got {value!r}")
    return tuple(float(v) for v in value)


def _check_pair(spec: ParamSpec, value: list | tuple) -> int | tuple[int, int]:
    """(height, width): two whole numbers; an equal pair is that number (a 3x3 kernel is 3)."""
    if len(value) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
        raise ParamError(
            f"{spec.name} must be a whole number or a pair of them such as 1x7 (height x width), "
            f"got {value!r}"
        )
    for v in value:
        _check_range(spec, v)
    return value[0] if value[0] == value[1] else (value[0], value[1])


def pair(value: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """A resolved size parameter (ParamSpec.pair) as (height, width)."""
    if isinstance(value, (list, tuple)):
        return value[0], value[1]
    return value, value


def resolve(spec: ParamSpec, raw: Any, env: dict[str, Any] | None) -> Any:
    """Resolve a raw stored value: evaluate an expression (in a block body), then check it."""
    if (
        spec.type == "float"
        and isinstance(raw, str)
        and env is not None
        and raw in env
        and raw.isidentifier()
    ):
        return check_value(spec, env[raw])  # a float block parameter by name (a drop rate); no arithmetic
    if (
        isinstance(raw, str)
        and spec.accepts_expression
        and not (spec.type == "int_or_same" and raw in ("same", "valid"))
    ):
        if env is None:
            try:
                number = int(raw.strip())
            except ValueError:
                try:
                    expr.parse(raw)
                except expr.ExprError:
                    raise ParamError(f"{spec.name} must be a whole number, got {raw[:40]!r}") from None
                raise ParamError(
                    f"{spec.name}: expressions such as {raw[:40]!r} are only allowed inside a block"
                ) from None
            return check_value(spec, number)
        try:
            parsed = expr.parse(raw)
            value = parsed.evaluate(env)
        except expr.ExprError as exc:
            err = ParamError(f"{spec.name}: {exc}")
            err.unknown, err.known = getattr(exc, "unknown", None), getattr(exc, "known", ())
            raise err from None
        return check_value(spec, value)
    return check_value(spec, raw)


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value)
    return str(value)
