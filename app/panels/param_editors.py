"""One editor widget per parameter type of the registry's schema (ParamSpec),
with validation as you type: an invalid value is outlined in red and the
reason appears under the field; only valid values are committed.

``ParamField.committed(value)`` fires once per committed change (Enter,
focus out, an arrow step, a toggle, a choice)."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from graph import expr
from graph.params import MAX_INT, ParamError, ParamSpec, check_value

# Units shown beside editors where the schema gives none.
UNITS = {
    "kernel_size": "px",
    "stride": "px",
    "padding": "px",
    "dilation": "px",
    "output_size": "px",
    "out_channels": "ch",
    "out_features": "units",
    "num_groups": "groups",
    "start": "ch",
    "stop": "ch",
    "shape": "C×H×W",
    "p": "prob.",
    "negative_slope": "slope",
    "num_inputs": "inputs",
}
CHOICE_LABELS = {
    "kaiming_fan_out": "Kaiming normal (fan out)",
    "kaiming_fan_in": "Kaiming normal (fan in)",
    "torch_default": "PyTorch default",
    "none": "none",
    "fixed": "fixed weights",
    "learnable": "learnable weights",
    "zeros": "zeros",
    "normal_0.01": "normal (std 0.01)",
}


def unit_for(spec: ParamSpec) -> str:
    return spec.unit or UNITS.get(spec.name, "")


def _is_int_text(text: str) -> bool:
    return re.fullmatch(r"[-+]?\d+", text.strip()) is not None


# height x width, as a size parameter (ParamSpec.pair) takes it: "1x7", "1 × 7", "(1, 7)", "[1, 7]", "1, 7"
_PAIR_TEXT = re.compile(r"[(\[]?\s*(\d+)\s*(?:[xX×,]|\s)\s*(\d+)\s*[)\]]?")


def parse_text(spec: ParamSpec, text: str, env: dict[str, Any] | None) -> Any:
    """Text typed by the user -> the value to store; raises ParamError with the reason.

    ``env`` is None in the network (plain numbers only) or, inside a block
    body, the names an expression may use (block parameters, in_channels).
    """
    t = text.strip()
    if spec.pair and (m := _PAIR_TEXT.fullmatch(t)):
        value = check_value(spec, [int(m.group(1)), int(m.group(2))])
        return list(value) if isinstance(value, tuple) else value  # stored as the file has it: [1, 7]
    if spec.type == "opt_int" and t in ("", "default", "none", "None"):
        return None
    if spec.type == "int_or_same" and t in ("same", "valid"):
        return t
    if spec.type in ("int", "int_or_same", "opt_int"):
        return _parse_whole(spec, t, env)
    if spec.type == "float":
        try:
            value = float(t)
        except ValueError:
            raise ParamError(f"{spec.name} must be a number, got {t!r}") from None
        return check_value(spec, value)
    if spec.type == "shape":
        parts = [p for p in re.split(r"[\s,x×]+", t.strip("[]() ")) if p]
        if not parts or not all(_is_int_text(p) for p in parts):
            raise ParamError(f"{spec.name} must be whole numbers such as 3, 32, 32")
        return list(check_value(spec, [int(p) for p in parts]))
    if spec.type == "floats":
        parts = [p for p in re.split(r"[\s,]+", t.strip("[]() ")) if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ParamError(f"{spec.name} must be numbers separated by commas, such as 1.0, 0.5") from None
        return list(check_value(spec, values))
    raise ParamError(f"cannot edit {spec.type} here")  # pragma: no cover


def _parse_whole(spec: ParamSpec, t: str, env: dict[str, Any] | None) -> Any:
    """A whole-number parameter's stripped text ``t``: a number, or inside a block an expression
    (stored as typed, checked against ``env``)."""
    if t == "":
        raise ParamError(f"{spec.name} needs a value")
    if _is_int_text(t):
        return check_value(spec, int(t))
    if env is None:
        hint = " (or 'same')" if spec.type == "int_or_same" else ""
        hint = f" or height x width such as 1x7{hint}" if spec.pair else hint
        raise ParamError(
            f"{spec.name} must be a whole number{hint}; expressions such as "
            f"'{t}' are only allowed inside a block"
        )
    try:
        parsed = expr.parse(t)
        unknown = sorted(parsed.names - set(env))
        if unknown:
            known = ", ".join(sorted(env)) or "none"
            raise ParamError(f"unknown name {unknown[0]!r}; this block knows {known}")
        check_value(spec, parsed.evaluate(env))
    except expr.ExprError as exc:
        raise ParamError(str(exc)) from None
    return t


def format_text(spec: ParamSpec, value: Any) -> str:
    if value is None:
        return ""
    if spec.type == "shape" and isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if spec.type == "floats" and isinstance(value, (list, tuple)):
        return ", ".join(f"{v:g}" for v in value)
    if spec.type == "float" and isinstance(value, (int, float)):
        return f"{value:g}"
    if spec.pair and isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value)
    return str(value)


def stepped_text(spec: ParamSpec, text: str, step: int) -> str | None:
    """The text one arrow step away: ``3`` -> ``4``, ``1x7`` -> ``2x8`` (each side within the
    parameter's range); None when the text is no number or pair (an expression)."""
    t = text.strip()
    m = _PAIR_TEXT.fullmatch(t) if spec.pair else None
    if m is not None:
        sides = [int(m.group(1)), int(m.group(2))]
    elif _is_int_text(t):
        sides = [int(t)]
    else:
        return None
    lo = int(spec.min) if spec.min is not None else -MAX_INT
    hi = int(spec.max) if spec.max is not None else MAX_INT
    sides = [min(hi, max(lo, v + step)) for v in sides]
    return "x".join(map(str, sides))


class SizeEdit(QLineEdit):
    """A line edit for a size that may be height x width ("1x7"): the Up and Down keys step it, as a
    spin box would; ``stepped`` fires with the new text."""

    stepped = Signal(str)

    def __init__(self, spec: ParamSpec, text: str) -> None:
        super().__init__(text)
        self.spec = spec

    def keyPressEvent(self, event) -> None:
        step = {Qt.Key.Key_Up: 1, Qt.Key.Key_Down: -1}.get(event.key())
        new = stepped_text(self.spec, self.text(), step) if step else None
        if new is None:
            super().keyPressEvent(event)
            return
        self.setText(new)
        self.stepped.emit(new)
        event.accept()


class ParamField(QWidget):
    """A label-less editor for one parameter: the editor, its unit, and an error line."""

    committed = Signal(object)

    def __init__(
        self, spec: ParamSpec, value: Any, env: dict[str, Any] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.spec = spec
        self.env = env
        self.value = value
        self.error_label = QLabel(wordWrap=True)
        self.error_label.setProperty("role", "error")
        self.error_label.hide()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        self.editor = self._make_editor(value)
        row.addStretch(0)
        row.addWidget(self.editor, 1)
        unit = unit_for(spec)
        self.unit_label = QLabel(unit)
        self.unit_label.setProperty("role", "unit")
        self.unit_label.setMinimumWidth(34)
        self.unit_label.setVisible(bool(unit))
        row.addWidget(self.unit_label)
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(2)
        col.addLayout(row)
        col.addWidget(self.error_label)
        if spec.doc:
            self.setToolTip(spec.doc)

    # ----- construction -----------------------------------------------------------
    def _uses_spin(self, value: Any) -> bool:
        return (
            self.spec.type == "int"
            and not self.spec.pair  # "1x7" needs a line edit
            and self.env is None
            and isinstance(value, int)
            and not isinstance(value, bool)
        )

    def _make_editor(self, value: Any) -> QWidget:
        s = self.spec
        if s.type == "bool":
            w = QCheckBox()
            w.setChecked(bool(value))
            w.toggled.connect(lambda v: self._commit(bool(v)))
            return w
        if s.type == "choice":
            w = QComboBox()
            w.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            w.setMinimumContentsLength(12)  # fits a narrow dock; the popup shows long labels whole
            for c in s.choices:
                w.addItem(CHOICE_LABELS.get(str(c), str(c)), c)
            w.setCurrentIndex(max(0, w.findData(value)))
            w.activated.connect(lambda i: self._commit(w.itemData(i)))
            return w
        if self._uses_spin(value):
            w = QSpinBox()
            w.setRange(
                int(s.min) if s.min is not None else -MAX_INT, int(s.max) if s.max is not None else MAX_INT
            )
            w.setValue(value)
            w.setKeyboardTracking(False)  # valueChanged on Enter, focus out or an arrow step
            w.setAlignment(Qt.AlignmentFlag.AlignRight)
            w.setCorrectionMode(QSpinBox.CorrectionMode.CorrectToPreviousValue)
            w.valueChanged.connect(self._commit)
            w.lineEdit().textEdited.connect(self._check_spin_text)
            return w
        w = SizeEdit(s, format_text(s, value)) if s.pair else QLineEdit(format_text(s, value))
        if s.pair:
            w.setToolTip("height x width, such as 1x7; Up and Down step it")
            w.stepped.connect(lambda _text: self._commit_text())
        w.setAlignment(Qt.AlignmentFlag.AlignRight)
        if s.type == "opt_int":
            w.setPlaceholderText("default")
        w.textEdited.connect(self._check_text)
        w.editingFinished.connect(self._commit_text)
        return w

    # ----- validation and commit ------------------------------------------------------
    def show_error(self, message: str | None) -> None:
        w = self.editor
        w.setProperty("invalid", "true" if message else "false")
        w.style().unpolish(w)
        w.style().polish(w)
        self.error_label.setText(message or "")
        self.error_label.setVisible(bool(message))

    @property
    def error(self) -> str | None:
        return self.error_label.text() or None

    def _check_spin_text(self, text: str) -> None:
        t = text.strip()
        if not _is_int_text(t):
            self.show_error(
                f"{self.spec.name} must be a whole number" if t else f"{self.spec.name} needs a value"
            )
            return
        try:
            check_value(self.spec, int(t))
            self.show_error(None)
        except ParamError as exc:
            self.show_error(str(exc))

    def _check_text(self, text: str) -> None:
        try:
            parse_text(self.spec, text, self.env)
            self.show_error(None)
        except ParamError as exc:
            self.show_error(str(exc))

    def _commit_text(self) -> None:
        try:
            value = parse_text(self.spec, self.editor.text(), self.env)
        except ParamError as exc:
            self.show_error(str(exc))
            return
        self.show_error(None)
        self._commit(value)

    def _commit(self, value: Any) -> None:
        if self.spec.type != "bool" and isinstance(self.editor, QSpinBox):
            self.show_error(None)
        if value == self.value and type(value) is type(self.value):
            return
        self.value = value
        self.committed.emit(value)

    # ----- programmatic use (sync from the model, tests) -----------------------------
    def set_value(self, value: Any) -> None:
        """Show ``value`` from the model without committing it."""
        self.value = value
        w = self.editor
        w.blockSignals(True)
        try:
            if isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, QComboBox):
                w.setCurrentIndex(max(0, w.findData(value)))
            elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                if isinstance(value, int):
                    w.setValue(value)
            elif not (w.hasFocus() and self.error):
                w.setText(format_text(self.spec, value))
        finally:
            w.blockSignals(False)
        if not w.hasFocus():
            self.show_error(None)

    def enter_text(self, text: str) -> None:
        """Type ``text`` and press Enter (what a user does; used by tests and scripts)."""
        w = self.editor
        if isinstance(w, QSpinBox):
            w.lineEdit().setText(text)
            w.lineEdit().textEdited.emit(text)
            if _is_int_text(text) and self.error is None:
                w.setValue(int(text))
            return
        w.setText(text)
        w.textEdited.emit(text)
        w.editingFinished.emit()
