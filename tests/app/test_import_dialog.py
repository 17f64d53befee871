"""File ▸ Import from Python… (issue 22): a model file in, an unsaved project out, with the verdict."""

from __future__ import annotations

import textwrap

from PySide6.QtWidgets import QDialog

from app.import_dialog import ImportDialog, open_imported

MODEL = textwrap.dedent(
    """
    import torch.nn as nn
    import torch.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            x = F.relu(self.conv(x))
            x = F.avg_pool2d(x, x.size(3))  # a size from the input: the second tracer's case
            return self.fc(x.view(x.size(0), -1))

    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return self.conv(x).sin()
    """
)


def _run(qtbot, dialog: ImportDialog) -> None:
    dialog.import_button.click()
    assert "Tracing" in dialog.note.text()  # the progress note while it traces
    qtbot.waitUntil(lambda: not dialog.busy() and dialog.import_button.isEnabled(), timeout=120_000)


def test_a_model_file_opens_as_an_unsaved_project_with_the_verdict(qtbot, tmp_path, make_window, dialogs):
    (tmp_path / "mynet.py").write_text(MODEL)
    window = make_window(show=False)
    dialog = ImportDialog(window)
    qtbot.addWidget(dialog)
    dialog.target.setText(f"{tmp_path / 'mynet.py'}:Net")
    dialog.shape.setText("3,8,8")
    _run(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    dialogs.answer("information", None)
    assert open_imported(window, dialog.result_value)
    assert window.document.path is None  # unsaved: Save asks where
    assert window.document.project.name == "Net"
    assert window.document.analysis.valid
    kind, text = dialogs.calls[-1]
    assert kind == "information" and "Self-check passed" in text and "concrete shapes 3x8x8" in text


def test_a_refusal_shows_the_grouped_message_and_the_dialog_stays_open(qtbot, tmp_path):
    (tmp_path / "mynet.py").write_text(MODEL)
    dialog = ImportDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.target.setText(f"{tmp_path / 'mynet.py'}:Bad")
    dialog.shape.setText("3,8,8")
    _run(qtbot, dialog)
    assert dialog.isVisible() and dialog.result_value is None
    text = dialog.problem.toPlainText()
    assert dialog.problem.isVisible() and "cannot import" in text and "calls .sin()" in text
    assert "Traceback" not in text
    dialog.target.setText("no_such_module_xyz:Net")  # a bad target is a plain sentence too
    _run(qtbot, dialog)
    assert "cannot import module" in dialog.problem.toPlainText()
