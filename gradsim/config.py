"""The configuration of one run: a frozen, validated dataclass.

Every field is named like the CLI option that sets it. ``RunConfig(...)`` resolves aliases
(``he`` → ``he_normal``) and raises ``GradsimError`` with one line naming the problem;
variations are made with ``dataclasses.replace``.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, fields

from gradsim.activations import ACTIVATIONS, Activation, canonical_activation
from gradsim.dtypes import DTYPES, canonical_dtype, dtype_aliases  # noqa: F401 (re-exported)
from gradsim.errors import GradsimError
from gradsim.initializers import INITIALIZERS, InitParams, canonical_init, canonical_mode
from gradsim.losses import canonical_loss
from gradsim.scaling import canonical_loss_scale

MAX_SIZE = 2**31 - 1  # the largest depth, width or batch: NumPy's indices stay in C ints
MAX_SEED = 2**63 - 1  # seeds fit a signed 64-bit integer (a sweep store's INTEGER column)
BIAS_INITS = ("zeros", "constant", "normal", "uniform")
NORMS = ("batch", "layer")


def check_seed(seed, flag: str = "--seed") -> int:
    """A seed: a whole number from 0 to MAX_SEED."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise GradsimError(f"{flag} must be a whole number from 0 to 2^63 − 1 (got {seed!r})")
    return seed


NAMED = ("activation", "init", "loss", "dtype")  # names that cannot be None


@dataclass(frozen=True)
class RunConfig:
    depth: int | None = None  # L; None: 50, or len(widths) − 1 when widths are given
    width: int = 256  # n of every layer unless widths lists n_0..n_L
    widths: tuple[int, ...] | None = None
    batch: int = 128  # B inputs per pass
    activation: str = "relu"
    slope: float | None = None  # leaky_relu's negative slope (None: its default 0.01)
    init: str = "he_normal"
    gain: float = 1.0  # γ on top of the initializer's own scale
    mode: str | None = None  # fan_in | fan_out | fan_avg for variance-scaling inits
    std: float = 1.0  # normal / truncated_normal: the textbook N(0, 1)
    low: float = -1.0  # uniform
    high: float = 1.0
    value: float = 0.1  # constant
    truncated: bool = False  # normal draws truncated at ±2σ (Keras style, variance kept)
    bias_init: str | None = None  # None: the initializer's rule (zeros, or torch's uniform)
    bias_std: float = 0.1  # bias_init = normal; σ_b ≈ 0.05–0.3 in mean-field papers
    bias_value: float = 0.1  # bias_init = constant
    loss: str = "mse"
    seed: int = 0
    dtype: str = "float32"  # float32 | float64 | float16 | bfloat16 | float8_e4m3fn | float8_e5m2
    # ideal: δ rescaled by exact powers of two at every layer (true magnitudes, never under-
    # or overflowing); none: the plain computation; dynamic or a number N: ∂E/∂H_L × scale
    loss_scale: str = "ideal"
    threshold: float = 100.0  # a ratio beyond ×threshold or below ÷threshold is a verdict
    residual: bool = False  # H_l = H_{l-1} + α·φ(Z_l) (equal widths only)
    residual_scale: float = 1.0  # α, e.g. 1/√L
    norm: str | None = None  # batch | layer: Z_l = N(H_{l-1} W_l) + b_l

    def __post_init__(self) -> None:
        for name in ("activation", "init", "loss", "dtype", "mode", "bias_init", "norm"):
            v = getattr(self, name)
            if not isinstance(v, str) and (v is not None or name in NAMED):
                flag = "--act" if name == "activation" else f"--{name.replace('_', '-')}"
                raise GradsimError(f"{flag} takes a name (got {v!r})")
        self._resolve_shape()
        put = self._put
        put("activation", canonical_activation(self.activation))
        put("init", canonical_init(self.init))
        put("loss", canonical_loss(self.loss))
        put("dtype", canonical_dtype(self.dtype))
        put("loss_scale", canonical_loss_scale(self.loss_scale))
        self._check_numbers()
        self._check_choices()

    def _put(self, name, value) -> None:
        object.__setattr__(self, name, value)

    def _resolve_shape(self) -> None:
        """depth and widths agree (widths as a tuple); depth, width, batch, seed checked."""
        widths = self.widths
        if widths is not None:
            try:
                widths = tuple(operator.index(w) for w in widths)
            except TypeError:
                raise GradsimError(f"--widths takes whole numbers (got {widths!r})") from None
            if len(widths) < 2:
                raise GradsimError("--widths needs at least two numbers: n_0 (input) and n_1")
            if self.depth is not None and len(widths) != self.depth + 1:
                raise GradsimError(
                    f"--widths lists {len(widths)} widths but --depth {self.depth} "
                    f"needs {self.depth + 1} (n_0 … n_L)"
                )
            if min(widths) < 1:
                raise GradsimError(f"every width must be at least 1 (got {min(widths)})")
            self._put("widths", widths)
            self._put("depth", len(widths) - 1)
        elif self.depth is None:
            self._put("depth", 50)
        for name in ("depth", "width", "batch"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_SIZE:
                raise GradsimError(f"--{name} must be a whole number from 1 to {MAX_SIZE} "
                                   f"(got {v!r})")  # fmt: skip
        if widths is not None and max(widths) > MAX_SIZE:
            raise GradsimError(f"every width must be at most {MAX_SIZE} (got {max(widths)})")
        check_seed(self.seed)

    def _check_numbers(self) -> None:
        """Every real-valued option finite (as a float), and within its range."""
        names = ("gain", "std", "low", "high", "value", "bias_std", "bias_value", "threshold",
                 "residual_scale")  # fmt: skip
        for name in names:
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise GradsimError(f"--{name.replace('_', '-')} must be a finite number (got {v})")
            self._put(name, float(v))
        if self.std < 0:
            raise GradsimError(f"--std must be ≥ 0 (got {self.std})")
        if self.bias_std < 0:
            raise GradsimError(f"--bias-std must be ≥ 0 (got {self.bias_std})")
        if self.low >= self.high:
            raise GradsimError(f"--low must be below --high (got {self.low} ≥ {self.high})")
        if not math.isfinite(self.high - self.low):
            raise GradsimError(f"--high − --low must be a finite number (got {self.high} − "
                               f"{self.low})")  # fmt: skip
        if self.threshold <= 1:
            raise GradsimError(f"--threshold must be above 1 (got {self.threshold})")

    def _check_choices(self) -> None:
        """mode, slope, residual, norm and bias_init: valid, and applying to this network."""
        if self.mode is not None:
            self._put("mode", canonical_mode(self.mode))
            if INITIALIZERS[self.init].default_mode is None:
                users = [k for k, r in INITIALIZERS.items() if r.default_mode]
                raise GradsimError(
                    f"--mode does not apply to {self.init}; it applies to {', '.join(users)}"
                )
        if self.slope is not None:
            act = ACTIVATIONS[self.activation]
            if act.param != "slope":
                raise GradsimError(f"--slope applies to leaky_relu, not {self.activation}")
            if not math.isfinite(self.slope):
                raise GradsimError(f"--slope must be a finite number (got {self.slope})")
            self._put("slope", float(self.slope))
        for flag in ("residual", "truncated"):
            if not isinstance(getattr(self, flag), bool):
                raise GradsimError(
                    f"{flag} must be true or false (got {getattr(self, flag)!r:.40})"
                )
        if self.residual and self.widths is not None and len(set(self.widths)) > 1:
            raise GradsimError(
                "--residual needs equal widths (H_{l-1} + α·φ(Z_l) adds arrays of widths "
                f"n_(l-1) and n_l); got --widths {','.join(map(str, self.layer_widths))}"
            )
        if self.norm is not None:
            nm = str(self.norm).strip().lower()
            if nm in ("none", ""):
                nm = None
            elif nm not in NORMS:
                from gradsim.errors import unknown_name

                raise unknown_name("norm", self.norm, (*NORMS, "none"))
            self._put("norm", nm)
        if self.bias_init is not None:
            b = self.bias_init.strip().lower()
            if b not in BIAS_INITS:
                from gradsim.errors import unknown_name

                raise unknown_name("bias init", self.bias_init, BIAS_INITS)
            self._put("bias_init", b)

    # -- derived ----------------------------------------------------------------------
    @property
    def layer_widths(self) -> tuple[int, ...]:
        """n_0 … n_L."""
        return self.widths if self.widths is not None else (self.width,) * (self.depth + 1)

    @property
    def init_params(self) -> InitParams:
        return InitParams(
            gain=self.gain,
            mode=self.mode,
            std=self.std,
            low=self.low,
            high=self.high,
            value=self.value,
            truncated=self.truncated,
        )

    @property
    def resolved_mode(self) -> str | None:
        return self.mode or INITIALIZERS[self.init].default_mode

    @property
    def resolved_bias_init(self) -> str:
        return self.bias_init or INITIALIZERS[self.init].bias

    @property
    def phi(self) -> Activation:
        """The activation record φ, with its shape parameter (--slope) set."""
        return ACTIVATIONS[self.activation].with_param(self.slope)

    @property
    def alpha(self) -> float | None:
        """α of the skip connections H_l = H_{l-1} + α·φ(Z_l), or None without them."""
        return self.residual_scale if self.residual else None

    @property
    def resolved_slope(self) -> float | None:
        act = ACTIVATIONS[self.activation]
        if act.param != "slope":
            return None
        return self.slope if self.slope is not None else act.value

    def to_dict(self) -> dict:
        """Every resolved option, as the JSON contract's ``config`` object."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}  # all immutable: no copies
        d["widths"] = list(self.layer_widths)
        d["mode"] = self.resolved_mode
        d["bias_init"] = self.resolved_bias_init
        d["slope"] = self.resolved_slope
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise GradsimError(f"unknown config key(s): {', '.join(sorted(unknown))}")
        d = dict(d)
        if d.get("widths") is not None:
            d["widths"] = tuple(d["widths"])
        if d.get("mode") and INITIALIZERS[canonical_init(d.get("init", "he"))].default_mode is None:
            d["mode"] = None
        return cls(**d)
