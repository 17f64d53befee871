"""The state_dict keys a project's module tree implies, from shape inference alone (no torch)."""

BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def implied_state_keys(analysis) -> set[str]:
    """Keys of the convs, BatchNorms, Linears and conv_bn shortcut projections of ``analysis.layers()``."""
    keys: set[str] = set()
    for row in analysis.layers():
        if row.type == "Conv2d":
            keys.add(f"{row.path}.weight")
            if row.info.params["bias"]:
                keys.add(f"{row.path}.bias")
        elif row.type == "BatchNorm2d":
            keys.update(f"{row.path}.{k}" for k in BN_KEYS)
        elif row.type == "Linear":
            keys.update((f"{row.path}.weight", f"{row.path}.bias"))
        elif row.type == "Shortcut:conv_bn":
            keys.add(f"{row.path}.0.weight")
            keys.update(f"{row.path}.1.{k}" for k in BN_KEYS)
        else:
            assert row.num_params == 0 or row.info.children is not None, row.path
    return keys
