"""Training: short runs of deep MLPs on synthetic tasks, for ``gradsim train``, to see how the
initialization that a forward/backward pass diagnoses plays out once the weights move.

``tasks`` generates the data sets from a seed (teacher regression, Gaussian blobs, two
circles; NumPy only, no download); ``optimizers`` holds the update rules (SGD, momentum, Adam)
and global-norm gradient clipping; ``model`` the network (layers of ``gradsim run`` and a
linear read-out) with its exact backward; ``config`` the TrainConfig; ``loop`` the training
loop, the curves and the verdicts.

>>> from gradsim import RunConfig                                        # doctest: +SKIP
>>> from gradsim.train import TrainConfig, train
>>> r = train(TrainConfig(net=RunConfig(depth=30, width=64, batch=32), task="blobs"))
>>> r.verdict, r.final_loss
"""

from gradsim.train.config import TrainConfig
from gradsim.train.loop import VERDICTS, TrainRun, to_dict, train, train_all
from gradsim.train.optimizers import OPTIMIZERS, make_optimizer
from gradsim.train.tasks import TASKS, make_task

__all__ = [
    "OPTIMIZERS",
    "TASKS",
    "VERDICTS",
    "TrainConfig",
    "TrainRun",
    "make_optimizer",
    "make_task",
    "to_dict",
    "train",
    "train_all",
]
