"""The number formats a run can take: one record per format (``FORMATS``).

float64 and float32 store and compute in their own dtype. The low-precision formats store
every weight, input, activation and δ in the format and compute in float32, rounding each
result back to the format once, as mixed-precision frameworks do (low-precision storage,
float32 accumulation):

* ``float16``: IEEE half precision, held in NumPy float16 arrays;
* ``bfloat16``, ``float8_e4m3fn``, ``float8_e5m2``: held in float32 arrays whose values are
  rounded to the format by ml_dtypes (the maintained NumPy implementation of these types,
  imported when first needed), so products run at float32's speed and equal what a float32
  product of the stored numbers gives.

A format's range is written here (``max``, ``tiny``: its largest finite and smallest normal
number), so reading it never imports ml_dtypes; tests/test_dtypes.py checks them against
``ml_dtypes.finfo``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradsim.errors import unknown_name

Array = np.ndarray


@dataclass(frozen=True)
class Format:
    """A number format: ``name`` (the ``--dtype`` value), ``container`` (the NumPy dtype of
    its arrays), ``low`` (stored in the format, computed in float32), ``limit`` (the log-scaled
    pass rescales once an RMS leaves 2^±limit: less room, a smaller limit), ``max``, ``tiny``,
    ``eps`` (largest finite, smallest normal, 2^-mantissa bits)."""

    name: str
    container: str
    low: bool
    limit: int
    max: float
    tiny: float
    eps: float
    note: str
    ml_name: str | None = None  # the ml_dtypes type it is rounded to

    @property
    def bits(self) -> int:
        return (
            int(self.name[5:7])
            if self.name.startswith("float") and self.name[5:7].isdigit()
            else 16
            if self.name == "bfloat16"
            else 8
        )

    @property
    def compute(self) -> np.dtype:
        return np.dtype(np.float32) if self.low else np.dtype(self.container)

    def round(self, A: Array) -> Array:
        """A (in the compute dtype) rounded to the format, in place; a no-op for float32 and
        float64. Out of range gives what the format gives: inf, or NaN for float8_e4m3fn
        (it has no inf)."""
        if not self.low or A.dtype == np.bool_ or A.dtype == np.float16:
            return A  # (a float16 array holds float16's values already)
        if self.ml_name is None:  # float16
            np.copyto(A, A.astype(np.float16))
        else:
            np.copyto(A, A.astype(_ml_type(self.ml_name)).astype(A.dtype))
        return A


def _ml_type(name: str):
    import ml_dtypes  # lazily: only the formats that need it pay for the import

    return getattr(ml_dtypes, name)


def _finfo(t) -> tuple[float, float, float]:
    i = np.finfo(t)
    return float(i.max), float(i.tiny), float(i.eps)


FORMATS: dict[str, Format] = {
    "float32": Format("float32", "float32", False, 16, *_finfo(np.float32),
                      "IEEE single precision"),
    "float64": Format("float64", "float64", False, 16, *_finfo(np.float64),
                      "IEEE double precision"),
    "float16": Format("float16", "float16", True, 4, *_finfo(np.float16),
                      "IEEE half precision, computed in float32"),
    "bfloat16": Format("bfloat16", "float32", True, 16, 3.3895313892515355e38, 2.0**-126,
                       2.0**-7, "8-bit exponent, 7-bit mantissa, computed in float32",
                       "bfloat16"),
    "float8_e4m3fn": Format("float8_e4m3fn", "float32", True, 2, 448.0, 2.0**-6, 2.0**-3,
                            "4-bit exponent, 3-bit mantissa, no inf, computed in float32",
                            "float8_e4m3fn"),
    "float8_e5m2": Format("float8_e5m2", "float32", True, 4, 57344.0, 2.0**-14, 2.0**-2,
                          "5-bit exponent, 2-bit mantissa, computed in float32", "float8_e5m2"),
}  # fmt: skip
DTYPES = tuple(FORMATS)
DTYPE_ALIASES = {"bf16": "bfloat16", "e4m3": "float8_e4m3fn", "float8_e4m3": "float8_e4m3fn",
                 "e5m2": "float8_e5m2", "fp16": "float16", "half": "float16",
                 "fp32": "float32", "single": "float32", "fp64": "float64",
                 "double": "float64"}  # fmt: skip


def dtype_aliases() -> dict[str, str]:
    """The usual names of the formats: alias → name."""
    return dict(DTYPE_ALIASES)


def canonical_dtype(name: str) -> str:
    """A format's name from its name or alias ('bf16' → 'bfloat16')."""
    key = str(name).strip().lower()
    key = DTYPE_ALIASES.get(key, key)
    if key not in FORMATS:
        raise unknown_name("dtype", str(name), [*DTYPES, *DTYPE_ALIASES])
    return key


def fmt(dtype) -> Format:
    """The Format of a name, an alias or a NumPy dtype (a container: float16/32/64)."""
    if isinstance(dtype, Format):
        return dtype
    if isinstance(dtype, str):
        return FORMATS[canonical_dtype(dtype)]
    return FORMATS[np.dtype(dtype).name]


def container(name: str) -> np.dtype:
    """The NumPy dtype of a format's arrays."""
    return np.dtype(fmt(name).container)
