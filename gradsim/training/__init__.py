"""Training: short runs of deep MLPs on synthetic tasks, for ``gradsim train``, to see how the
initialization that a forward/backward pass diagnoses plays out once the weights move.

``tasks`` generates the data sets from a seed (teacher regression, Gaussian blobs, two
circles; NumPy only, no download); ``optimizers`` holds the update rules (SGD, momentum, Adam)
and global-norm gradient clipping; ``model`` the network (layers of ``gradsim run`` and a
linear read-out) with its exact backward; ``config`` the TrainConfig; ``loop`` the training
loop, the curves and the verdicts.

>>> from gradsim import RunConfig                                        # doctest: +SKIP
>>> from gradsim.training import TrainConfig, train
>>> r = train(TrainConfig(net=RunConfig(depth=30, width=64, batch=32), task="blobs"))
>>> r.verdict, r.final_loss
"""

# imported on first use, so that `gradsim --help` (which reads the tasks' and optimizers'
# registries) does not load the training loop
_WHERE = {
    "TrainConfig": "config",
    "VERDICTS": "loop",
    "TrainRun": "loop",
    "to_dict": "loop",
    "train": "loop",
    "train_all": "loop",
    "OPTIMIZERS": "optimizers",
    "make_optimizer": "optimizers",
    "TASKS": "tasks",
    "make_task": "tasks",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'gradsim.training' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(f"gradsim.training.{_WHERE[name]}"), name)
