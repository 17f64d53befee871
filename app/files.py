"""File handling for the editor: new from template, open, save, save as,
recent files, the unsaved-changes prompt, autosave to a recovery file and the
offer to recover after a crash, and exports (code, ONNX, PNG, SVG).

Recovery: while a project is open and modified, its JSON is written (after a
2 s pause in editing, and every 60 s) to ``recovery-<pid>.json`` in the
application data folder, with a ``.meta.json`` beside it naming the original
file.  A clean exit deletes both; so a recovery file whose process is no
longer running is what a crash left behind, and the next start offers it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from graph.atomic import write_text_atomic
from graph.errors import UserError
from graph.projectfile import dumps_project, load_project, loads_project, save_project

PROJECT_FILTER = "Skipwire projects (*.skipwire *.json);;All files (*)"
AUTOSAVE_INTERVAL_MS = 60_000
AUTOSAVE_DEBOUNCE_MS = 2_000


def default_recovery_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".skipwire") / "recovery"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _atomic_write(path: Path, text: str) -> None:
    """Temp file beside ``path``, renamed into place; on any failure no temp file is left
    and the previous file stays (graph.atomic; an OSError becomes a UserError naming the path)."""
    write_text_atomic(path, text)


def user_folder(settings=None) -> str:
    """Where a file dialog starts for an unsaved project: the folder of the last project opened or
    saved, else the user's Documents, else home; never the folder Skipwire was started from (the
    source checkout, issue 25)."""
    for path in settings.recent_files() if settings is not None else []:
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(folder):
            return folder
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return docs if docs and os.path.isdir(docs) else os.path.expanduser("~")


def unsaved_runs_dir() -> Path:
    """The runs folder of a project not saved yet (an example, a template, a run's copy):
    Documents/Skipwire/runs (a saved project's runs go beside it, in runs/)."""
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    base = Path(docs) if docs else Path.home()
    return base / "Skipwire" / "runs"


class FileController(QObject):
    """Owns the document's link to disk; the window wires its menu actions here."""

    recent_changed = Signal(list)
    message = Signal(str)  # for the status bar
    state_changed = Signal()  # ``recovered`` changed (the window's title shows it)

    def __init__(
        self, parent: QWidget, document, settings, recovery_dir: str | os.PathLike | None = None, canvas=None
    ) -> None:
        super().__init__(parent)
        self.window = parent
        self.document = document
        self.settings = settings
        self.canvas = canvas
        self.interactive = True  # False: no dialogs (screenshot mode); errors go to stderr
        self._recovered = False
        self.recovery_dir = Path(recovery_dir) if recovery_dir is not None else default_recovery_dir()
        self.recovery_path = self.recovery_dir / f"recovery-{os.getpid()}.json"
        self._autosave_timer = QTimer(self, interval=AUTOSAVE_INTERVAL_MS)
        self._autosave_timer.timeout.connect(self.autosave)
        self._debounce = QTimer(self, singleShot=True, interval=AUTOSAVE_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.autosave)
        document.changed.connect(self._on_changed)
        document.modified_changed.connect(self._on_modified_changed)

    @property
    def recovered(self) -> bool:
        """The document came from a recovery file and has not been saved since."""
        return self._recovered

    @recovered.setter
    def recovered(self, value: bool) -> None:
        if value != self._recovered:
            self._recovered = value
            self.state_changed.emit()

    def start_autosave(self) -> None:
        self._autosave_timer.start()

    # ----- prompts ------------------------------------------------------------------
    def is_modified(self) -> bool:
        return self.document.is_modified() or self.recovered

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; False means the user cancelled."""
        if not self.is_modified() or not self.interactive:
            return True
        name = os.path.basename(self.document.path) if self.document.path else self.document.project.name
        Btn = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.window,
            "Unsaved changes",
            f"Save the changes to “{name}” before closing it?\n"
            "Your changes will be lost if you don't save them.",
            Btn.Save | Btn.Discard | Btn.Cancel,
            Btn.Save,
        )
        if answer == Btn.Save:
            return self.save()
        return answer == Btn.Discard

    def error(self, title: str, text: str) -> None:
        if self.interactive:
            QMessageBox.critical(self.window, title, text)
        else:
            import sys

            sys.stderr.write(f"skipwire: {text}\n")
        self.message.emit(text)

    # ----- new / open ---------------------------------------------------------------
    def new_from_template(self, name: str | None = None, options: dict | None = None) -> bool:
        if not self.maybe_save():
            return False
        if name is None:
            from app.gallery import choose_template

            chosen = choose_template(self.window)
            if chosen is None:
                return False
            name, options = chosen
        from graph.templates import make

        opts = options or {}
        try:
            project = make(
                name,
                classes=opts.get("classes"),
                input_shape=opts.get("input_shape"),
                shortcut=opts.get("shortcut"),
            )
            if opts.get("weights"):
                from graph.pretrained import with_weights

                with_weights(project, opts["weights"])
        except UserError as exc:
            self.error("Cannot create the project", exc.message)
            return False
        self.document.replace_project(project, None)
        self.recovered = False
        self.message.emit(f"New project from template {name}")
        return True

    def open(self, path: str | None = None) -> bool:
        if not self.maybe_save():
            return False
        if path is None:
            start = os.path.dirname(self.document.path) if self.document.path else user_folder(self.settings)
            path, _ = QFileDialog.getOpenFileName(self.window, "Open project", start, PROJECT_FILTER)
            if not path:
                return False
        return self.load(path)

    def load(self, path: str) -> bool:
        """Open ``path`` without prompting; False (and a clear message) if it cannot be read."""
        try:
            project = load_project(path)
        except UserError as exc:
            self.error("Cannot open the project", exc.message)
            if not os.path.exists(path):
                self.recent_changed.emit(self.settings.remove_recent(path))
            return False
        self.document.replace_project(project, os.path.abspath(path))
        self.recovered = False
        self.recent_changed.emit(self.settings.add_recent(path))
        self.message.emit(f"Opened {path}")
        return True

    def new_empty(self) -> bool:
        """File ▸ New ▸ Empty network: Input -> Output, unsaved."""
        if not self.maybe_save():
            return False
        from app.project_edits import empty_network

        self.document.replace_project(empty_network(), None)
        self.recovered = False
        self.message.emit("New empty network: drag layers in from the palette")
        return True

    def open_run_copy(self, path: str) -> bool:
        """A run's graph (its ``project.json``) as a new, unsaved project with the settings the run
        trained with (its ``config.json``): the run folder is never the document, so a save or a
        sweep from here never writes into it (issue 25)."""
        if not self.maybe_save():
            return False
        run = Path(path).parent
        try:
            project = load_project(path)
            cfg_path = run / "config.json"
            if cfg_path.exists():
                from training.config import TrainConfig

                cfg = TrainConfig.from_dict(json.loads(cfg_path.read_text(encoding="utf-8")))
                project.training = cfg.to_project_training()
        except UserError as exc:
            self.error("Cannot open the run's graph", exc.message)
            return False
        except (OSError, ValueError) as exc:
            self.error("Cannot open the run's graph", f"{run / 'config.json'}: {exc}")
            return False
        self.document.replace_project(project, None)
        self.recovered = False
        self.message.emit(f"Opened the graph of the run {run.name} as an unsaved copy; Save asks where")
        return True

    def open_copy(self, path: str) -> bool:
        """Open an example as a new, unsaved project (Save asks where: the example stays as it is)."""
        if not self.maybe_save():
            return False
        try:
            project = load_project(path)
        except UserError as exc:
            self.error("Cannot open the example", exc.message)
            return False
        self.document.replace_project(project, None)
        self.recovered = False
        self.message.emit(f"Opened the example {os.path.basename(path)}; Save asks where to keep your copy")
        return True

    # ----- save -----------------------------------------------------------------------
    def save(self) -> bool:
        if not self.document.path:
            return self.save_as()
        return self._write(self.document.path)

    def save_as(self, path: str | None = None) -> bool:
        if path is None:
            start = self.document.path or os.path.join(
                user_folder(self.settings), self.document.project.name.replace(" ", "_").lower() + ".skipwire"
            )
            path, _ = QFileDialog.getSaveFileName(self.window, "Save project as", start, PROJECT_FILTER)
            if not path:
                return False
            if not os.path.splitext(path)[1]:
                path += ".skipwire"
        return self._write(path)

    def _write(self, path: str) -> bool:
        try:
            save_project(self.document.project, path)
        except (OSError, UserError) as exc:
            self.error(
                "Cannot save the project", getattr(exc, "message", None) or f"Could not write {path}: {exc}"
            )
            return False
        self.document.mark_saved(os.path.abspath(path))
        self.recovered = False
        self.recent_changed.emit(self.settings.add_recent(path))
        self.discard_recovery()
        self.message.emit(f"Saved {path}")
        return True

    # ----- autosave and recovery -----------------------------------------------------------
    def _on_changed(self) -> None:
        if self.is_modified():
            self._debounce.start()

    def _on_modified_changed(self, modified: bool) -> None:
        if not modified and not self.recovered:
            self.discard_recovery()

    def autosave(self) -> Path | None:
        """Write the recovery file now if there is anything unsaved."""
        self._debounce.stop()
        if not self.is_modified():
            return None
        try:
            self.recovery_dir.mkdir(parents=True, exist_ok=True)
            _atomic_write(self.recovery_path, dumps_project(self.document.project))
            meta = {
                "path": self.document.path,
                "pid": os.getpid(),
                "time": time.time(),
                "name": self.document.project.name,
            }
            _atomic_write(self.recovery_path.with_suffix(".meta.json"), json.dumps(meta))
        except (OSError, UserError) as exc:
            self.message.emit(f"Autosave failed: {getattr(exc, 'message', None) or exc}")
            return None
        return self.recovery_path

    def discard_recovery(self, path: Path | None = None) -> None:
        path = path or self.recovery_path
        for p in (path, path.with_suffix(".meta.json")):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass

    def orphaned_recoveries(self) -> list[tuple[Path, dict]]:
        """Recovery files left by processes that are no longer running (crashes), newest first."""
        found = []
        if not self.recovery_dir.is_dir():
            return found
        for p in self.recovery_dir.glob("recovery-*.json"):
            if p.name.endswith(".meta.json"):
                continue
            meta_path = p.with_suffix(".meta.json")
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                meta = {}
            pid = meta.get("pid")
            if not isinstance(pid, int):
                try:
                    pid = int(p.stem.split("-", 1)[1])
                except (IndexError, ValueError):
                    pid = -1
            if pid > 0 and _pid_alive(pid):
                continue
            found.append((p, meta))
        found.sort(key=lambda pm: pm[1].get("time", 0), reverse=True)
        return found

    def offer_recovery(self) -> bool:
        """At start-up: offer the newest orphaned recovery file. True if one was restored."""
        orphans = self.orphaned_recoveries()
        if not orphans or not self.interactive:
            return False
        path, meta = orphans[0]
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(meta.get("time", path.stat().st_mtime)))
        original = meta.get("path") or "an unsaved project"
        Btn = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.window,
            "Recover unsaved work?",
            f"Skipwire did not close cleanly last time. Unsaved changes to {original} "
            f"(“{meta.get('name', 'project')}”, autosaved {when}) can be recovered.\n\nRecover them?",
            Btn.Yes | Btn.Discard,
            Btn.Yes,
        )
        if answer != Btn.Yes:
            for p, _ in orphans:
                self.discard_recovery(p)
            return False
        try:
            project = loads_project(path.read_text(encoding="utf-8"), source=str(path))
        except (OSError, UserError) as exc:
            self.error("Cannot recover", getattr(exc, "message", None) or str(exc))
            return False
        self.document.replace_project(project, meta.get("path"))
        self.recovered = True
        for p, _ in orphans:
            self.discard_recovery(p)
        self.autosave()
        self.message.emit("Recovered unsaved work; save it to keep it")
        return True

    def clean_exit(self) -> None:
        self._autosave_timer.stop()
        self._debounce.stop()
        self.discard_recovery()

    # ----- exports ------------------------------------------------------------------------
    def _ask_path(self, title: str, suffix: str, filt: str) -> str | None:
        """The export dialog starts in the folder of the last export (remembered across sessions)."""
        stem = (
            os.path.splitext(os.path.basename(self.document.path))[0]
            if self.document.path
            else self.document.project.name.replace(" ", "_").lower()
        )
        folder = str(self.settings.value("export/last_folder", "") or "")
        if not folder or not os.path.isdir(folder):
            folder = os.path.dirname(self.document.path) if self.document.path else user_folder(self.settings)
        start = os.path.join(folder, stem + suffix)
        path, _ = QFileDialog.getSaveFileName(self.window, title, start, filt)
        if not path:
            return None
        if not os.path.splitext(path)[1]:
            path += suffix
        self.settings.set_value("export/last_folder", os.path.dirname(os.path.abspath(path)))
        return path

    def _require_valid(self, what: str) -> bool:
        a = self.document.analysis
        if a is not None and not a.valid:
            self.error(
                f"Cannot export {what}",
                f"The graph has {len(a.errors)} error(s); fix them first (see "
                f"Problems).\n\n{a.errors[0].message}",
            )
            return False
        return True

    def export_code(self, path: str | None = None) -> bool:
        if not self._require_valid("code"):
            return False
        path = path or self._ask_path("Export PyTorch code", ".py", "Python (*.py)")
        if not path:
            return False
        try:
            from codegen.emitter import emit

            source = emit(self.document.project).source
            _atomic_write(Path(path), source)
        except (ImportError, OSError, UserError) as exc:
            self.error("Cannot export code", getattr(exc, "message", None) or str(exc))
            return False
        self.message.emit(f"Exported code to {path}")
        return True

    def export_onnx(self, path: str | None = None) -> bool:
        if not self._require_valid("ONNX"):
            return False
        path = path or self._ask_path("Export ONNX", ".onnx", "ONNX (*.onnx)")
        if not path:
            return False
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QApplication

        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            from codegen import export  # imports torch: only now

            fn = getattr(export, "export_onnx", None) or export.to_onnx
            fn(self.document.project, path)
        except UserError as exc:
            self.error("Cannot export ONNX", exc.message)
            return False
        except Exception as exc:  # noqa: BLE001 - any exporter failure becomes a message, not a crash
            self.error("Cannot export ONNX", f"ONNX export failed: {exc}")
            return False
        finally:
            QApplication.restoreOverrideCursor()
        self.message.emit(f"Exported ONNX to {path}")
        return True

    def export_image(self, fmt: str, path: str | None = None) -> bool:
        suffix = "." + fmt.lower()
        path = path or self._ask_path(f"Export graph as {fmt.upper()}", suffix, f"{fmt.upper()} (*{suffix})")
        if not path or self.canvas is None:
            return False
        try:
            self.canvas.export_image(path)
        except (OSError, UserError) as exc:
            self.error("Cannot export image", getattr(exc, "message", None) or str(exc))
            return False
        self.message.emit(f"Exported the graph to {path}")
        return True
