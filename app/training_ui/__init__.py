"""The Training tab: settings, start/stop, live plots, and the runs folder.

Importing this package is cheap (no torch, no pyqtgraph): ``TrainingPanel``
builds its plots in a deferred step, when it is first shown, and the trainer
runs in a child process (training.process) that alone imports torch.
"""

from app.training_ui.panel import TrainingPanel

__all__ = ["TrainingPanel"]
