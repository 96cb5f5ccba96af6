"""Hyper-parameter specifications shared by the CLI, the pages and the URL query string.

A :class:`Param` knows its type, default, bounds and help text, so that a single declaration gives a
command-line flag, a widget with sensible bounds, validation with a clear message, and a round trip
through text (``--epochs 5`` or ``?epochs=5``).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from typing import Any


class ParamError(ValueError):
    """An invalid hyper-parameter value; the message is meant for the user."""


@dataclass(frozen=True)
class Param:
    """One hyper-parameter.

    kind: ``int``, ``float``, ``bool``, ``choice`` or ``str``.
    log: the value spans orders of magnitude (learning rates); widgets offer a log-scale choice.
    browser: False for a setting only the command line and the server may give (a path on the server): pages
    show no widget for it, a link cannot set it, a sweep from a page cannot vary it.
    """

    name: str
    default: Any
    kind: str = "float"
    min: float | None = None
    max: float | None = None
    choices: tuple = ()
    help: str = ""
    label: str = ""
    log: bool = False
    step: float | None = None
    browser: bool = True

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse(self, text: str | Any) -> Any:
        """Convert text (CLI or URL) to a valid value, or raise :class:`ParamError`."""
        if not isinstance(text, str):
            return self.validate(text)
        raw = text.strip()
        try:
            if self.kind == "int":
                value: Any = int(float(raw)) if float(raw).is_integer() else float("nan")
                if isinstance(value, float):
                    raise ValueError
            elif self.kind == "float":
                value = float(raw)
            elif self.kind == "bool":
                lowered = raw.lower()
                if lowered in ("1", "true", "yes", "on"):
                    value = True
                elif lowered in ("0", "false", "no", "off"):
                    value = False
                else:
                    raise ValueError
            else:
                value = raw
        except ValueError:
            raise ParamError(f"{self.title}: {text!r} is not a valid {self.kind}") from None
        return self.validate(value)

    def validate(self, value: Any) -> Any:
        """Return ``value`` coerced to this parameter's type, or raise :class:`ParamError`."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if value in (0, 1):
                return bool(value)
            raise ParamError(f"{self.title}: expected true or false, got {value!r}")
        if self.kind == "str":
            if not isinstance(value, str):
                raise ParamError(f"{self.title}: expected text, got {value!r}")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                options = ", ".join(map(str, self.choices))
                raise ParamError(f"{self.title}: {value!r} is not one of {options}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(f"{self.title}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ParamError(f"{self.title}: must be a finite number, got {value!r}")
        if self.kind == "int":
            if float(value) != int(value):
                raise ParamError(f"{self.title}: must be a whole number, got {value!r}")
            value = int(value)
        else:
            value = float(value)
        if self.min is not None and value < self.min:
            raise ParamError(f"{self.title}: {value} is below the minimum {self.min:g}")
        if self.max is not None and value > self.max:
            raise ParamError(f"{self.title}: {value} is above the maximum {self.max:g}")
        return value


@dataclass(frozen=True)
class ParamSpace:
    """An ordered set of :class:`Param` for one model kind; ``groups`` (title -> names) orders a page's sidebar."""

    params: tuple[Param, ...]
    groups: dict = field(default_factory=dict)

    def grouped(self) -> list[tuple[str, list[Param]]]:
        """The parameters by group, in the groups' order; ungrouped ones last under the title ``""``."""
        seen = {name for names in self.groups.values() for name in names}
        unknown = seen - set(self.names())
        if unknown:
            raise KeyError(f"groups name unknown parameters: {sorted(unknown)}")
        out = [(title, [self[name] for name in names]) for title, names in self.groups.items()]
        rest = [p for p in self.params if p.name not in seen]
        return out + ([("", rest)] if rest else [])

    def __iter__(self):
        return iter(self.params)

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def validate(self, values: dict[str, Any]) -> dict[str, Any]:
        """Complete ``values`` with defaults and validate all; one ParamError lists every problem."""
        unknown = sorted(set(values) - set(self.names()))
        problems = [f"unknown hyper-parameter {name!r}" for name in unknown]
        out = {}
        for p in self.params:
            try:
                out[p.name] = p.validate(values.get(p.name, p.default))
            except ParamError as err:
                problems.append(str(err))
        if problems:
            raise ParamError("; ".join(problems))
        return out

    def from_strings(self, strings: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
        """Parse text values (a URL query string); invalid or unknown ones fall back to defaults.

        Returns the values and a list of notices, one per value that was ignored.
        """
        values, notices = self.defaults(), []
        for name, text in strings.items():
            if name not in self.names():
                continue
            try:
                values[name] = self[name].parse(text)
            except ParamError as err:
                notices.append(f"{err} — using the default {self[name].default!r}")
        return values, notices

    def to_strings(self, values: dict[str, Any]) -> dict[str, str]:
        """Values as text (for a URL); the inverse of :meth:`from_strings`."""
        return {p.name: _to_text(values[p.name]) for p in self.params if p.name in values}

    def add_flags(self, parser) -> None:
        """A command-line flag per parameter on an ``argparse`` parser, with its bounds and default in the help."""
        for p in self.params:
            extra = f" (one of {', '.join(map(str, p.choices))})" if p.kind == "choice" else ""
            bounds = f" [{p.min:g}..{p.max:g}]" if p.min is not None and p.max is not None else ""
            text = p.help.replace("%", "%%")  # argparse %-formats help strings; the texts are prose ("0.1% less")
            if p.kind == "bool":
                parser.add_argument(p.flag, dest=p.name, action=argparse.BooleanOptionalAction, default=None,
                                    help=f"{text} (default {p.default})")
            else:
                parser.add_argument(p.flag, dest=p.name, default=None, metavar=p.kind.upper(),
                                    help=f"{text}{extra}{bounds} (default {p.default})")

    def from_flags(self, args) -> tuple[dict[str, Any], list[str]]:
        """The validated values of the flags given (an ``argparse`` namespace), and every problem, not only the first."""
        parsed, problems = {}, []
        for p in self.params:
            text = getattr(args, p.name, None)
            if text is None:
                continue
            try:
                parsed[p.name] = p.parse(text)
            except ParamError as err:
                problems.append(str(err))
        try:
            values = self.validate(parsed)
        except ParamError as err:
            problems.append(str(err))
            values = {}
        return values, problems

    def diff(self, values: dict[str, Any]) -> dict[str, Any]:
        """Only the values that differ from the defaults."""
        return {k: v for k, v in values.items() if k in self.names() and self[k].default != v}


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)
