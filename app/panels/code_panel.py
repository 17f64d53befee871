"""The Code panel: the PyTorch code generated from the project, live.

The emitter (codegen.emitter, no torch) is imported on first use; the code is
regenerated 300 ms after the last change and only while the panel is shown.
While the project has errors the panel says so instead of showing stale code."""

from __future__ import annotations

import re

from PySide6.QtCore import QRegularExpression, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.app_style import chrome

DEBOUNCE_MS = 300

_KEYWORDS = [
    "False",
    "None",
    "True",
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "class",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "except",
    "finally",
    "for",
    "from",
    "global",
    "if",
    "import",
    "in",
    "is",
    "lambda",
    "nonlocal",
    "not",
    "or",
    "pass",
    "raise",
    "return",
    "try",
    "while",
    "with",
    "yield",
]
_BUILTINS = [
    "int",
    "float",
    "bool",
    "str",
    "list",
    "tuple",
    "dict",
    "super",
    "len",
    "range",
    "isinstance",
    "print",
]


def _fmt(color: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    f = QTextCharFormat()
    f.setForeground(QColor(color))
    if bold:
        f.setFontWeight(QFont.Weight.Bold)
    f.setFontItalic(italic)
    return f


class PythonHighlighter(QSyntaxHighlighter):
    def __init__(self, document, theme: str = "dark") -> None:
        super().__init__(document)
        self.set_theme(theme)

    def set_theme(self, theme: str) -> None:
        dark = theme != "light"
        c = {
            "kw": "#c792ea" if dark else "#7a3db8",
            "builtin": "#82aaff" if dark else "#1f5fbf",
            "self": "#f07178" if dark else "#b5304a",
            "str": "#c3e88d" if dark else "#3b7d22",
            "num": "#f78c6c" if dark else "#b0531d",
            "comment": "#6f7a8c" if dark else "#8a8f98",
            "def": "#ffcb6b" if dark else "#8d6400",
            "deco": "#89ddff" if dark else "#0b7a8c",
        }
        w = QRegularExpression
        self.rules = [
            (w(r"\b(" + "|".join(_KEYWORDS) + r")\b"), _fmt(c["kw"])),
            (w(r"\b(" + "|".join(_BUILTINS) + r")\b"), _fmt(c["builtin"])),
            (w(r"\bself\b"), _fmt(c["self"], italic=True)),
            (w(r"\b[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\b"), _fmt(c["num"])),
            (w(r"@[A-Za-z_][A-Za-z0-9_.]*"), _fmt(c["deco"])),
            (w(r"(?<=\bdef |\bclass )[A-Za-z_][A-Za-z0-9_]*"), _fmt(c["def"], bold=True)),
        ]
        self.string_fmt = _fmt(c["str"])
        self.comment_fmt = _fmt(c["comment"], italic=True)
        self.string_re = w(r"\"\"\"|'''|\"([^\"\\\\]|\\\\.)*\"|'([^'\\\\]|\\\\.)*'")
        self.comment_re = w(r"#[^\n]*")
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        for rx, fmt in self.rules:
            it = rx.globalMatch(text)
            while it.hasNext():
                m = it.next()
                self.setFormat(m.capturedStart(), m.capturedLength(), fmt)
        # strings and comments last so they win; triple-quoted strings span blocks
        self.setCurrentBlockState(0)
        start = 0
        if self.previousBlockState() == 1:
            end = text.find('"""')
            if end < 0:
                self.setFormat(0, len(text), self.string_fmt)
                self.setCurrentBlockState(1)
                return
            self.setFormat(0, end + 3, self.string_fmt)
            start = end + 3
        i = start
        while i < len(text):
            ch = text[i]
            if ch == "#":
                self.setFormat(i, len(text) - i, self.comment_fmt)
                return
            if text.startswith('"""', i):
                end = text.find('"""', i + 3)
                if end < 0:
                    self.setFormat(i, len(text) - i, self.string_fmt)
                    self.setCurrentBlockState(1)
                    return
                self.setFormat(i, end + 3 - i, self.string_fmt)
                i = end + 3
                continue
            if ch in "\"'":
                m = re.match(r"(\"([^\"\\]|\\.)*\"|'([^'\\]|\\.)*')", text[i:])
                if m:
                    self.setFormat(i, m.end(), self.string_fmt)
                    i += m.end()
                    continue
            i += 1


def generate_code(project, analysis) -> tuple[str | None, str]:
    """Returns (source, message): the code, or None and why there is none."""
    if analysis is not None and not analysis.valid:
        errors = analysis.errors
        first = errors[0].message
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return None, (
            f"The graph has {len(errors)} error{'s' if len(errors) > 1 else ''}; code appears once it is "
            f"valid.\n\n{first}{more}\n\nSee the Problems tab for fixes."
        )
    try:
        from codegen.emitter import emit
    except ImportError as exc:
        return None, f"The code generator is not available in this build ({exc})."
    try:
        return emit(project).source, ""
    except Exception as exc:  # noqa: BLE001 - report the emitter's message, keep the editor alive
        return None, f"Code generation failed: {exc}"


class CodePanel(QWidget):
    export_requested = Signal()

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.source: str | None = None
        self._dirty = True
        bar = QFrame(objectName="panelToolbar")
        bl = QHBoxLayout(bar)
        bl.setContentsMargins(8, 4, 8, 4)
        self.caption = QLabel("model.py")
        self.caption.setProperty("role", "muted")
        bl.addWidget(self.caption, 1)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the generated code to the clipboard")
        self.copy_button.clicked.connect(self.copy)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the generated code as a .py file")
        self.export_button.clicked.connect(self.export_requested)
        bl.addWidget(self.copy_button)
        bl.addWidget(self.export_button)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setPointSizeF(max(9.5, mono.pointSizeF()))
        self.editor = QPlainTextEdit(readOnly=True)
        self.editor.setFont(mono)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setFrameShape(QFrame.Shape.NoFrame)
        self.highlighter = PythonHighlighter(self.editor.document(), chrome().name)
        self.message = QLabel(wordWrap=True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setProperty("role", "muted")
        self.message.setContentsMargins(24, 24, 24, 24)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.editor)
        self.stack.addWidget(self.message)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(bar)
        lay.addWidget(self.stack, 1)
        self.timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self.timer.timeout.connect(self.refresh)
        document.analysis_changed.connect(self._on_changed)

    def set_theme(self, name: str) -> None:
        self.highlighter.set_theme(name)

    def _on_changed(self, _analysis=None) -> None:
        self._dirty = True
        if self.isVisible():
            self.timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            QTimer.singleShot(0, self.refresh)

    def refresh(self) -> None:
        self._dirty = False
        source, message = generate_code(self.document.project, self.document.analysis)
        self.source = source
        has_code = source is not None
        self.copy_button.setEnabled(has_code)
        self.export_button.setEnabled(has_code)
        if has_code:
            if self.editor.toPlainText() != source:
                bar = self.editor.verticalScrollBar()
                pos = bar.value()
                self.editor.setPlainText(source)
                bar.setValue(pos)
            self.stack.setCurrentWidget(self.editor)
            self.caption.setText(f"model.py · {source.count(chr(10)) + 1} lines · generated from the graph")
        else:
            self.message.setText(message)
            self.stack.setCurrentWidget(self.message)
            self.caption.setText("model.py · not generated")

    def scroll_to(self, text: str) -> bool:
        """Put the first line containing ``text`` at the top of the view."""
        doc = self.editor.document()
        found = doc.find(text)
        if found.isNull():
            return False
        bar = self.editor.verticalScrollBar()
        bar.setValue(found.blockNumber())
        return True

    def copy(self) -> None:
        if self.source:
            QGuiApplication.clipboard().setText(self.source)
