"""Networks: one network (``Network``, the form users save, load and build by hand) and K
networks of one shape stacked for the pass (``Stack``; a single network is a stack of one).

Everything is stored in the run's dtype (float16 too). Drawing them from the seed's streams
is gradsim.draws' work; ``build_network`` and ``build_stacks`` are its entry points.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gradsim.config import RunConfig
from gradsim.engine import Block

Array = np.ndarray


@dataclass(frozen=True)
class Network:
    """One network. W[l-1]: (n_{l-1}, n_l), b[l-1]: (n_l,), X: (B, n_0), T: (B, n_L) or
    None."""

    W: tuple[Array, ...]
    b: tuple[Array, ...]
    X: Array
    T: Array | None

    @property
    def depth(self) -> int:
        return len(self.W)

    @functools.cached_property
    def stack(self) -> Stack:
        """This network as a stack of one (views, no copies)."""
        return Stack(tuple(w[None] for w in self.W), tuple(b[None] for b in self.b),
                     self.X[None], None if self.T is None else self.T[None],
                     tuple(bool(np.any(b)) for b in self.b))  # fmt: skip


@dataclass(frozen=True)
class Stack:
    """K networks of one shape. W[l-1]: (K, n_{l-1}, n_l), b[l-1]: (K, n_l), X: (K, B, n_0),
    T: (K, B, n_L) or None, all in the runs' dtype; ``biased[l-1]``: layer l has a nonzero
    bias in these runs (the same for all K: ``split_by_bias``)."""

    W: tuple[Array, ...]
    b: tuple[Array, ...]
    X: Array
    T: Array | None
    biased: tuple[bool, ...]

    @property
    def size(self) -> int:
        return self.X.shape[0]

    @property
    def depth(self) -> int:
        return len(self.b)

    @property
    def widths(self) -> tuple[int, ...]:
        """n_0 … n_L (from X and the biases: the weights may not be drawn yet)."""
        return (self.X.shape[2], *(b.shape[1] for b in self.b))

    def take(self, idx: Sequence[int], biased: tuple[bool, ...] | None = None) -> Stack:
        """The runs ``idx`` (all of them: self's arrays, not copies)."""
        biased = self.biased if biased is None else biased
        if list(idx) == list(range(self.size)):
            return Stack(self.W, self.b, self.X, self.T, biased)
        idx = np.asarray(idx)
        return Stack(tuple(w[idx] for w in self.W), tuple(b[idx] for b in self.b),
                     self.X[idx], None if self.T is None else self.T[idx], biased)  # fmt: skip

    def network(self, k: int) -> Network:
        """Run k as a Network (views)."""
        return Network(tuple(w[k] for w in self.W), tuple(b[k] for b in self.b), self.X[k],
                       None if self.T is None else self.T[k])  # fmt: skip


def blocks_of(cfg: RunConfig) -> list[Block]:
    """What each layer of ``cfg``'s network does after H_{l-1} W_l: the same for every layer."""
    return [Block(cfg.phi, cfg.norm, cfg.alpha)] * cfg.depth


def shape_key(cfg: RunConfig) -> tuple:
    """Configurations with equal keys can share a stack: their pass is the same."""
    return (cfg.layer_widths, cfg.batch, cfg.dtype, cfg.activation, cfg.resolved_slope,
            cfg.loss, cfg.norm, cfg.alpha, cfg.loss_scale)  # fmt: skip


def split_by_bias(stack: Stack) -> list[tuple[list[int], Stack]]:
    """Sub-stacks whose runs agree on which layers have nonzero biases (the pass adds biases,
    and tracks the forward pass, by that pattern), with their indices."""
    nonzero = np.stack([np.any(bl != 0, axis=1) for bl in stack.b], axis=1)  # (K, L)
    groups: dict[tuple, list[int]] = {}
    for k, pattern in enumerate(nonzero.tolist()):
        groups.setdefault(tuple(pattern), []).append(k)
    return [(idx, stack.take(idx, pattern)) for pattern, idx in groups.items()]
