"""Replay a training run from the file `gradsim train --save-run FILE.npz` wrote, in plain
NumPy, and compare every step with the numbers gradsim recorded.

    gradsim train --depth 6 --width 32 --init lsuv --optimizer adam --lr 0.003 \\
        --clip-norm 1 --dtype float64 --save-run run.npz
    python examples/replay_training.py run.npz

Nothing here imports gradsim: the network, the loss, the backward pass, clipping, the
optimizers and batch norm's running statistics are written out below from their formulas
(docs/training.md, "Replaying a run"), so the replay is a check of gradsim by a second,
independent implementation. It prints each step's mini-batch loss beside the stored one,
then the largest relative difference of the losses, the per-layer and global gradient
norms, the whole-set losses and batch norm's running statistics. In float64 they agree to
about 1e-15 (the order of the floating-point sums differs); the script exits with status 1
where a difference exceeds --tol (default 1e-12 in float64, 1e-4 in float32).

The replay computes in the file's dtype (float64 or float32); a run in a low-precision format
(float16, bfloat16, float8) holds float32 master parameters, and its replay here is float32
arithmetic without the format's rounding: close to the file's numbers, not equal. Steps that a
dynamic loss scale skipped (``skipped``) take no update, as in the run.

Several files (a product of configurations: FILE-1.npz, FILE-2.npz, …) are replayed in turn;
--json prints one JSON object per file instead of the table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

FORMAT = "gradsim-train-run"


# ---------------------------------------------------------------- activations: φ and φ'


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


def _gelu_tanh(z):
    c = math.sqrt(2.0 / math.pi)
    return 0.5 * z * (1.0 + np.tanh(c * (z + 0.044715 * z**3)))


def _gelu_tanh_grad(z, a):
    c = math.sqrt(2.0 / math.pi)
    t = np.tanh(c * (z + 0.044715 * z**3))
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * c * (1.0 + 3 * 0.044715 * z * z)


_erf = np.vectorize(math.erf, otypes=[float])


def _gelu_erf(z):
    return 0.5 * z * (1.0 + _erf(z / math.sqrt(2.0)))


def _gelu_erf_grad(z, a):
    return 0.5 * (1.0 + _erf(z / math.sqrt(2.0))) + z * np.exp(-0.5 * z * z) / math.sqrt(
        2.0 * math.pi
    )


SELU_ALPHA, SELU_LAMBDA = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _selu(z):
    return SELU_LAMBDA * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0.0)))


def activation(layer: dict):
    """(φ, φ') of a layer as the file names it; φ'(z, a) may use a = φ(z)."""
    name, p = layer["activation"], layer["param"]
    if name is None or name == "linear":
        return (lambda z: z), (lambda z, a: np.ones_like(z))
    if name == "gelu":  # the exact erf form; files written before `gelu_tanh` existed
        # called the tanh form `gelu`, and their formula says so
        name = "gelu_tanh" if "tanh" in (layer["formula"] or "") else "gelu_erf"
    table = {
        "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(z.dtype)),
        "tanh": (np.tanh, lambda z, a: 1.0 - a * a),
        "sigmoid": (_sigmoid, lambda z, a: a * (1.0 - a)),
        "leaky_relu": (lambda z: np.where(z > 0, z, p * z),
                       lambda z, a: np.where(z > 0, 1.0, p).astype(z.dtype)),
        "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
                lambda z, a: np.where(z > 0, 1.0, a + 1.0).astype(z.dtype)),
        "selu": (_selu, lambda z, a: np.where(z > 0, SELU_LAMBDA,
                                             a + SELU_LAMBDA * SELU_ALPHA).astype(z.dtype)),
        "silu": (lambda z: z * _sigmoid(z),
                 lambda z, a: _sigmoid(z) * (1.0 + z * (1.0 - _sigmoid(z)))),
        "softplus": (lambda z: np.logaddexp(0.0, z), lambda z, a: _sigmoid(z)),
        "gelu_tanh": (_gelu_tanh, _gelu_tanh_grad),
        "gelu_erf": (_gelu_erf, _gelu_erf_grad),
    }  # fmt: skip
    if name not in table:
        sys.exit(f"replay_training: activation '{name}' is not written out here")
    return table[name]


# ---------------------------------------------------------------- the network


class Net:
    """Layer l: U = H W_l; Z = N(U) + b_l (N: batch or layer normalization, no affine part;
    without it Z = U + b_l); A = φ(Z); H_l = H_{l-1} + α·A with a skip connection, else A.
    The last layer is the linear read-out."""

    def __init__(self, f, meta: dict):
        self.layers = meta["layers"]
        L = len(self.layers)
        self.W = [f[f"W{l}"].copy() for l in range(1, L + 1)]
        self.b = [f[f"b{l}"].copy() for l in range(1, L + 1)]
        self.phi = [activation(layer) for layer in self.layers]
        bn = meta["batch_norm"]
        self.eps, self.momentum, self.eval_mode = bn["eps"], bn["momentum"], bn["eval"]
        # running statistics start at mean 0, variance 1 (PyTorch's BatchNorm)
        self.running = [
            (np.full_like(b, bn["initial_mean"]), np.full_like(b, bn["initial_var"]))
            if layer["norm"] == "batch" else None
            for layer, b in zip(self.layers, self.b, strict=True)
        ]  # fmt: skip

    def forward(self, X, mode: str):
        """The output and what the backward pass needs. ``mode``: "train" (batch norm
        with the batch's mean and biased variance, the running statistics updated), "eval"
        (with the running statistics) or "whole" (with the whole batch's, no update)."""
        H, cache = X, []
        for l, layer in enumerate(self.layers):
            U = H @ self.W[l]
            c = {"H": H}
            if layer["norm"] is None:
                Z = U + self.b[l]
            else:
                axis = 0 if layer["norm"] == "batch" else 1
                if layer["norm"] == "batch" and mode == "eval":
                    mu, var = self.running[l]
                else:
                    mu = U.mean(axis=axis, keepdims=True)
                    var = ((U - mu) ** 2).mean(axis=axis, keepdims=True)
                    if layer["norm"] == "batch" and mode == "train":
                        self._update_running(l, U)
                s = np.sqrt(var + self.eps)
                c["Y"], c["s"], c["axis"] = (U - mu) / s, s, axis
                Z = c["Y"] + self.b[l]
            phi, _ = self.phi[l]
            A = phi(Z)
            c["Z"], c["A"] = Z, A
            H = A if layer["alpha"] is None else H + layer["alpha"] * A
            cache.append(c)
        return H, cache

    def _update_running(self, l: int, U) -> None:
        """PyTorch's rule: r ← (1 − m)·r + m·(batch value), the variance unbiased."""
        m = self.momentum
        mean, var = self.running[l]
        mean[...] = (1 - m) * mean + m * U.mean(axis=0)
        var[...] = (1 - m) * var + m * U.var(axis=0, ddof=1)

    def backward(self, cache, G):
        """∂E/∂W_l and ∂E/∂b_l from G = ∂E/∂(output), layer L down to 1."""
        L = len(self.layers)
        gW, gb = [None] * L, [None] * L
        for l in range(L - 1, -1, -1):
            layer, c = self.layers[l], cache[l]
            alpha = layer["alpha"]
            dA = G if alpha is None else alpha * G
            dZ = dA * self.phi[l][1](c["Z"], c["A"])
            gb[l] = dZ.sum(axis=0)
            if layer["norm"] is None:
                dU = dZ
            else:  # Y = (U − μ)/s: ∂E/∂U = (dY − mean dY − Y·mean(dY∘Y))/s
                Y, ax = c["Y"], c["axis"]
                dU = (dZ - dZ.mean(axis=ax, keepdims=True)
                      - Y * (dZ * Y).mean(axis=ax, keepdims=True)) / c["s"]  # fmt: skip
            gW[l] = c["H"].T @ dU
            back = dU @ self.W[l].T
            G = back if alpha is None else G + back
        return gW, gb


def loss_and_grad(out, target, kind: str):
    """(E, ∂E/∂out): E = 1/(2B) Σ‖out − y‖² (mse), or the mean softmax cross-entropy; E in
    float64, the gradient in out's dtype."""
    B = out.shape[0]
    z = out.astype(np.float64)
    if kind == "mse":
        d = z - target
        return 0.5 * float(np.sum(d * d)) / B, (d / B).astype(out.dtype)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    rows = np.arange(B)
    p = np.exp(logp)
    p[rows, target] -= 1.0
    return -float(logp[rows, target].mean()), (p / B).astype(out.dtype)


# ---------------------------------------------------------------- optimizers


class Optimizer:
    """sgd: p ← p − lr·g. momentum: v ← μ·v + g, p ← p − lr·v. adam: m ← β1·m + (1−β1)·g,
    v ← β2·v + (1−β2)·g², p ← p − lr·m̂/(√v̂ + ε), m̂ = m/(1−β1^t), v̂ = v/(1−β2^t)."""

    def __init__(self, spec: dict, params):
        self.spec, self.t = spec, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, params, grads) -> None:
        s, self.t = self.spec, self.t + 1
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            if s["name"] == "sgd":
                p -= s["lr"] * g
            elif s["name"] == "momentum":
                m[...] = s["momentum"] * m + g
                p -= s["lr"] * m
            elif s["name"] == "adam":
                m[...] = s["beta1"] * m + (1 - s["beta1"]) * g
                v[...] = s["beta2"] * v + (1 - s["beta2"]) * g * g
                m_hat = m / (1 - s["beta1"] ** self.t)
                v_hat = v / (1 - s["beta2"] ** self.t)
                p -= s["lr"] * m_hat / (np.sqrt(v_hat) + s["eps"])
            else:
                sys.exit(f"replay_training: optimizer '{s['name']}' is not written out here")


def norm(a) -> float:
    a = np.asarray(a, dtype=np.float64).ravel()
    return math.sqrt(float(a @ a))


# ---------------------------------------------------------------- the replay


def replay(path: str) -> dict:
    """Every step of the file's run again; the replay's numbers beside the file's."""
    f = np.load(path, allow_pickle=False)
    meta = json.loads(str(f["meta"]))
    if meta.get("format") != FORMAT or meta.get("version") != 1:
        sys.exit(f"replay_training: {path} is not a gradsim train run file (version 1)")
    net = Net(f, meta)
    X, Y, batches = f["X"], f["Y"], f["batches"]
    opt = Optimizer(meta["optimizer"], [*net.W, *net.b])
    clip, kind = meta["clip_norm"], meta["loss"]
    whole = "eval" if net.eval_mode == "running" else "whole"
    got = {"loss": [], "grad_norm": [], "global_grad_norm": [], "clipped": []}
    got["initial_loss"] = loss_and_grad(net.forward(X, whole)[0], Y, kind)[0]
    # a dynamic loss scale skipped the updates of steps whose gradients held inf/NaN
    skipped = f["skipped"] if "skipped" in f.files else np.zeros(len(batches), bool)
    for idx, skip in zip(batches, skipped, strict=True):
        out, cache = net.forward(X[idx], "train")
        E, G = loss_and_grad(out, Y[idx], kind)
        gW, gb = net.backward(cache, G)
        grads = [*gW, *gb]
        total = math.sqrt(sum(norm(g) ** 2 for g in grads))
        clipped = clip is not None and total > clip and not skip
        if clipped:
            grads = [g * (clip / total) for g in grads]
        if not skip:
            opt.step([*net.W, *net.b], grads)
        got["loss"].append(E)
        got["grad_norm"].append([norm(g) for g in gW])
        got["global_grad_norm"].append(total)
        got["clipped"].append(clipped)
    done = meta["steps_done"] == meta["config"]["steps"] and meta["nonfinite"] is None
    got["final_loss"] = loss_and_grad(net.forward(X, whole)[0], Y, kind)[0] if done else math.nan
    return {"meta": meta, "file": f, "got": got, "running": net.running}


def rel(a, b, whole: bool = False) -> float:
    """The largest |a − b| / max(|a|, |b|) over the entries (0 where both are 0; NaN in both
    agrees); ``whole``: relative to the largest entry of the array instead (for vectors whose
    entries may cancel to near 0, as a running mean's)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return math.inf
    both_nan = np.isnan(a) & np.isnan(b)
    scale = np.maximum(np.abs(a), np.abs(b))
    if whole:
        scale = np.full_like(scale, np.max(scale, initial=0.0))
    d = np.where(scale > 0, np.abs(a - b) / np.where(scale > 0, scale, 1.0), 0.0)
    d = np.where(both_nan, 0.0, d)
    return float(np.max(d, initial=0.0)) if not np.isnan(d).any() else math.inf


def differences(r: dict) -> dict:
    f, got = r["file"], r["got"]
    out = {k: rel(got[k], f[k]) for k in ("loss", "grad_norm", "global_grad_norm",
                                         "initial_loss", "final_loss")}  # fmt: skip
    for l, stats in enumerate(r["running"], start=1):
        if stats is not None and f"running_mean{l}" in f.files:
            for name, value in zip(("running_mean", "running_var"), stats, strict=True):
                out[name] = max(out.get(name, 0.0), rel(value, f[f"{name}{l}"], whole=True))
    out["clipped_steps_that_differ"] = int(np.sum(np.array(got["clipped"]) != f["clipped"]))
    return out


def show(path: str, r: dict, d: dict, every: int | None, tol: float) -> None:
    f, got, meta = r["file"], r["got"], r["meta"]
    S = len(got["loss"])
    every = every or max(1, S // 50)
    print(f"{path}: {meta['label']} · {meta['task']}")
    print(f"{'step':>6} {'loss (replay)':>22} {'loss (file)':>22} {'rel. diff':>10}")
    for s in range(1, S + 1):
        if s % every == 0 or s in (1, S):
            a, b = got["loss"][s - 1], float(f["loss"][s - 1])
            print(f"{s:>6} {a:>22.16g} {b:>22.16g} {rel(a, b):>10.1e}")
    for k, v in d.items():
        print(f"  max {k}: {v:.2g}" if isinstance(v, float) else f"  {k}: {v}")
    worst = max(v for k, v in d.items() if isinstance(v, float))
    verdict = "agrees" if worst <= tol and not d["clipped_steps_that_differ"] else "DIFFERS"
    print(f"  {verdict}: largest relative difference {worst:.2g} (tolerance {tol:g})\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", metavar="FILE.npz")
    ap.add_argument("--every", type=int, default=None, help="print every N-th step")
    ap.add_argument("--tol", type=float, default=None, help="largest relative difference")
    ap.add_argument("--json", action="store_true", help="one JSON object per file")
    args = ap.parse_args(argv)
    ok = True
    for path in args.files:
        r = replay(path)
        d = differences(r)
        tol = args.tol or (1e-12 if r["file"]["W1"].dtype == np.float64 else 1e-4)
        worst = max(v for v in d.values() if isinstance(v, float))
        agrees = worst <= tol and d["clipped_steps_that_differ"] == 0
        ok &= agrees
        if args.json:
            print(json.dumps({"file": path, "label": r["meta"]["label"],
                              "steps": len(r["got"]["loss"]), "agrees": agrees,
                              "clipped_steps": int(np.sum(r["got"]["clipped"])),
                              "max_rel_diff": d}))  # fmt: skip
        else:
            show(path, r, d, args.every, tol)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
