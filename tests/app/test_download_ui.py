"""The Training tab's side of downloads: the dataset combo's cache state, the ImageNet choice,
the download row with Cancel (records as the training process sends them)."""

from __future__ import annotations

import pytest

from app.document import Document
from app.training_ui import TrainingPanel
from app.training_ui.download_bar import DownloadBar
from app.training_ui.settings_form import SettingsForm
from graph.templates import make
from training.config import TrainConfig
from training.metrics import record


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SKIPWIRE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SKIPWIRE_DATASETS_URL", raising=False)
    monkeypatch.delenv("SKIPWIRE_TEST_MANIFEST", raising=False)
    return tmp_path / "cache"


def labels(form: SettingsForm) -> dict:
    return {form.dataset.itemData(i): form.dataset.itemText(i) for i in range(form.dataset.count())}


def test_combo_says_what_is_cached_and_what_a_download_costs(qtbot, cache):
    form = SettingsForm()
    qtbot.addWidget(form)
    assert labels(form)["cache:cifar10"] == "CIFAR-10 — download 162 MB"
    assert labels(form)["cache:mnist"].startswith("MNIST — download ")
    (cache / "datasets" / "cifar10").mkdir(parents=True)
    form.refresh_datasets()
    assert labels(form)["cache:cifar10"] == "CIFAR-10 — cached"
    form.dataset.setCurrentIndex(form.dataset.findData("cache:cifar10"))
    assert not form._dir_widget.isVisibleTo(form)  # no folder to choose
    assert form.config().dataset == "cifar10"
    form.set_config(TrainConfig(dataset="cifar100:/data/c100"))
    assert form.dataset.currentData() == "cifar100" and form.data_dir.text() == "/data/c100"
    form.set_config(TrainConfig(dataset="fashion_mnist"))
    assert form.dataset.currentData() == "cache:fashion_mnist" and form.dataset_spec() == "fashion_mnist"


def test_imagenet_choice_only_for_torchvision_architectures(qtbot):
    form = SettingsForm()
    qtbot.addWidget(form)
    form.set_project(make("resnet18", classes=10, input_shape="3,32,32"))
    assert form.imagenet.isEnabled() and "resnet18" in form.imagenet.toolTip()
    form.imagenet.setChecked(True)
    assert form.config().weights == "imagenet"
    form.imagenet.setChecked(False)
    assert form.config().weights is None
    form.set_config(TrainConfig(weights="imagenet:v1"))
    assert form.imagenet.isChecked() and form.config().weights == "imagenet:v1"
    form.set_project(make("resnet20"))
    assert not form.imagenet.isEnabled() and not form.imagenet.isChecked()
    assert "does not match" in form.imagenet.toolTip()
    assert form.config().weights is None


def test_download_bar_shows_progress_and_cancels(qtbot):
    bar = DownloadBar()
    qtbot.addWidget(bar)
    bar.show()
    total = 170_052_171
    half = total // 2 + 1
    rec = record(
        "status", state="downloading", message="", file="cifar-10-binary.tar.gz", done=half, total=total
    )
    bar.ingest([rec])
    assert bar.isVisible() and bar.bar.value() == 500
    assert bar.bar.format() == "81.1 of 162.2 MB" and "cifar-10-binary.tar.gz" in bar.label.text()
    with qtbot.waitSignal(bar.cancel_requested, timeout=1000):
        bar.cancel.click()
    assert not bar.cancel.isEnabled() and "Cancelling" in bar.label.text()
    bar.ingest([record("status", state="running", message="training")])
    assert not bar.isVisible()


class ScriptedProcess:
    """Stands in for the training process: a download in progress until stopped."""

    def __init__(self) -> None:
        self.records = [
            record(
                "status",
                state="downloading",
                message="",
                file="cifar-10-binary.tar.gz",
                done=d,
                total=100 << 20,
            )
            for d in (0, 10 << 20, 20 << 20)
        ]
        self.stopped = False

    def poll(self, max_items: int = 1000) -> list[dict]:
        out, self.records = self.records[:max_items], self.records[max_items:]
        return out

    def stop(self) -> None:
        self.stopped = True
        self.records.append(record("error", message="download cancelled", exit_code=130))

    def is_alive(self) -> bool:
        return bool(self.records) or not self.stopped


def test_panel_shows_the_download_and_cancel_stops_the_run(qtbot, tmp_path, cache):
    procs = []

    def factory(project, config, run_dir):
        procs.append((config, ScriptedProcess()))
        return procs[-1][1]

    panel = TrainingPanel(
        Document(make("resnet18", classes=10, input_shape="3,32,32")), tmp_path / "runs", factory=factory
    )
    qtbot.addWidget(panel)
    panel.resize(1500, 600)
    panel.show()
    assert panel.form.imagenet.isEnabled()
    panel.form.dataset.setCurrentIndex(panel.form.dataset.findData("cache:cifar10"))
    panel.form.imagenet.setChecked(True)
    panel.form.epochs.setValue(1)
    assert panel.start(confirmed=True)
    config = procs[0][0]
    assert config["dataset"] == "cifar10" and config["weights"] == "imagenet"
    qtbot.waitUntil(lambda: panel.download_bar.isVisible(), timeout=5000)
    qtbot.waitUntil(lambda: panel.download_bar.bar.value() == 200, timeout=5000)
    panel.download_bar.cancel.click()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=5000)
    assert procs[0][1].stopped and not panel.download_bar.isVisible()
    assert panel.start_button.isEnabled()


def test_gallery_offers_imagenet_weights_for_torchvision_templates(qtbot, make_window):
    from app.gallery import TemplateGallery

    dlg = TemplateGallery(selected="resnet20")
    qtbot.addWidget(dlg)
    assert not dlg.imagenet.isEnabled() and dlg.options().get("weights") is None
    dlg.select("resnet18")
    assert dlg.imagenet.isEnabled()
    dlg.imagenet.setChecked(True)
    dlg.input_shape.setEditText("3,32,32")
    dlg.classes.setValue(10)
    dlg.accept()
    assert dlg.result() == 1 and dlg.options()["weights"] == "imagenet"
    w = make_window()
    assert w.files.new_from_template("resnet18", dlg.options())
    assert w.document.project.training["weights"] == "imagenet"  # the reference is kept in the project
    dlg.select("plain18")  # a ResNet-shaped net without torchvision weights
    assert not dlg.imagenet.isEnabled() and dlg.options().get("weights") is None
