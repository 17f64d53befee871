"""Training: datasets, the training loop, the run store, the metrics stream. No Qt.

API overview (for the editor's Training tab and the CLI)::

    from training.config import TrainConfig, PRESETS, apply_preset
    cfg = TrainConfig.from_project(project.training)          # nested project section -> flat config
    cfg = apply_preset(cfg, "ResNet paper (CIFAR)")            # or "Fast"
    cfg = cfg.with_overrides(epochs=5, dataset="mnist:DIR")   # validated; UserError on bad values
    cfg.to_dict() / TrainConfig.from_dict(d)                   # config.json; to_project_training()

    from training import datasets
    datasets.parse_spec("mnist:DIR")    # DatasetSpec(kind, path); kinds: synthetic mnist fashion_mnist
                                        # cifar10 cifar100 cifar100_coarse folder; no :DIR = the cache
    ds = datasets.load(spec, input_shape=(C, H, W), num_classes=K, val_fraction=0.1)
    from training.download import ensure_dataset, dataset_status   # the download cache (training/cache.py)
    from training.pretrained import fetch, apply                   # --weights imagenet (torchvision's files)
    # -> Dataset(train_x/val_x uint8 (N,C,H,W), train_y/val_y int64, num_classes, class_names, mean, std);
    #    UserError naming the numbers and the fix (--input / --classes) when it cannot fit the project

    from training.engine import train, resume, RunResult
    result = train(project_or_dict, cfg_or_dict, run_dir, on_metric=callable, should_stop=callable)
    result = resume(run_dir, on_metric=..., should_stop=..., epochs=None)
    # RunResult(status "completed" | "stopped" | "diverged", run_dir, epochs_done, steps_done,
    #           best_val_acc, last_val_acc, last_val_loss, last_train_loss, message, fast_path, device,
    #           history=[epoch records]); failures raise UserError (exit 1: training failed, 2: bad input)

    from training.process import start_training   # the editor and sweeps: a child (docs/processes.md)
    proc = start_training(project.to_dict(), cfg.to_dict(), run_dir)   # resume=True to continue a run
    # processes=N (or SKIPWIRE_TRAIN_PROCESSES=N): N ranks through torchrun (DDP)
    proc.poll(max_items=500) -> list[dict]   # never blocks; call from a 50 ms QTimer
    proc.stop(); proc.is_alive(); proc.finished; proc.kill(); proc.join(timeout)

    from training.metrics import KINDS, validate, read_metrics   # record schema (see training/metrics.py):
    # {"kind": "step",   "step", "epoch", "loss", "lr", "images_per_s", "eta_s"}
    # {"kind": "epoch",  "epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
    #                    "images_per_s", "epoch_time_s", "eta_s", "gpu_mem_mb", "best"}
    # {"kind": "val",    "step", "epoch", "val_loss", "val_acc", "images"}  (a subset, mid-epoch)
    # {"kind": "grad",   "step", "epoch", "layers": [module paths], "norms": [L2 norms]}  (plot log-scale)
    # {"kind": "status", "state", "message", ...}   states: starting running resumed fast_path eager
    #                                                 checkpoint completed stopped diverged
    # {"kind": "error",  "message", ["traceback"]}

    from training.runs import list_runs, load_run, new_run_path   # run folders (training/runs.py)
    from training.evaluate import evaluate_run                     # accuracy, loss, per-class, confusion

    from training.inspect import run_inspection                    # every node's output on real samples
    ins = run_inspection(project, WeightsChoice("run", RUNDIR), dataset=None, images=None, samples=16)
    # Inspection(records=[NodeRecord(name "layer2.0.conv1", type, shape, mean, std, min, max, norm,
    #            zero_fraction, dead_fraction, saturated_fraction, grad_norm, inputs, maps, values)])
    from training.inspect_chart import write_profile, write_maps, write_csv   # PNG/SVG (matplotlib Agg), CSV
    from training.memory_check import measure      # graph/memory.py's estimate, measured on the CPU

Modules: config, schedule (lr as a pure function of the step), augment (crop + flip on the device),
datasets, images (PNG/PNM without Pillow), modelsrc (the generated code is the model), engine
(entry points) + trainer (the loop) + step (eager / compiled / CUDA graph) + placement + rng + optim +
meter + grads + failures + result, distributed (torchrun/DDP), bundle (the exported train.py),
fastpath (CUDA graph of the whole step), runs, metrics, process, evaluate, cli, inspect (+ inspect_inputs,
inspect_stats, inspect_chart, inspect_cli), memory_check.
"""
