"""Training recipes: what a network is and how it is trained, decided once for ``kgn train`` and the window.

A :class:`Recipe` is the network (architecture, depth L, width H, output bound, the architecture's own
options) and the optimizer (Adam learning rate, batch, steps, schedule, warm-up, seed). :func:`recipe_for`
gives the recipe of a named preset for a data source:

* ``paper``: the published recipe of that data set (PAPER.md). MNIST and other images: the MLP with L = 10
  hidden ReLU layers of width 500, Tanh, Adam 1e-4, one minibatch of 1000 per step, 10,000 steps. The
  paper's point experiments: ``1d-sigmoid`` L = 6, H = 10, Sigmoid; ``1d-tanh`` L = 10, H = 10, Tanh;
  ``2d-corners`` L = 6, H = 50, Sigmoid; ``2d-center`` L = 2, H = 50, Sigmoid; all Adam 1e-3, full batch,
  2000 steps. Other points (a list, or hand-placed ones): L = 6, H = 10 in 1-D and 50 in 2-D, the bound of
  their value range. The paper gives no recipe for the CNN, U-Net or Transformer: they get their usual size
  and learning rate (``models.ARCH_DEFAULTS``) with the paper's batch and steps.
* ``fast``: the data set's network with Adam 1e-3, 400 warm-up steps and cosine decay, on batches of 256
  for 8,000 steps. On MNIST it reaches the paper recipe's loss with ~10 % of the samples (see ``train.py``);
  on the point sets it is not faster (their paper recipe is 2000 full-batch steps), only the same optimizer.

Options a person gives explicitly (on the command line or in the form) win over the preset's:
:meth:`Recipe.with_overrides`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from ..data.sources import POINT_PRESETS
from ..errors import RecipeError
from .architectures import ARCH_DEFAULTS, ARCHITECTURES, BOUNDS, ModelSpec
from .train import TrainConfig

PRESET_NAMES = ("paper", "fast")
DEFAULT_PRESET = "paper"

# The paper's point experiments (PAPER.md, "The published recipes"): L, H, bound; seed chosen here (the
# published code fixes none) so that the published pictures come out.
POINT_RECIPES = {
    "1d-sigmoid": dict(L=6, H=10, bound="sigmoid", seed=0),
    "1d-tanh": dict(L=10, H=10, bound="tanh", seed=3),
    "2d-corners": dict(L=6, H=50, bound="sigmoid", seed=0),
    "2d-center": dict(L=2, H=50, bound="sigmoid", seed=0),
}
POINT_OPTIMIZER = dict(lr=1e-3, batch=1000, steps=2000, schedule="constant", warmup=0)  # full batch
IMAGE_OPTIMIZER = {
    "paper": dict(batch=1000, steps=10_000, schedule="constant", warmup=0),
    "fast": dict(lr=1e-3, batch=256, steps=8_000, schedule="cosine", warmup=400),
}


@dataclass(frozen=True)
class Recipe:
    """A network and its training. L, H: depth and width (see ``models.ARCH_DEFAULTS`` for what they mean
    per architecture). bound: ``tanh`` (values in [−1, 1]) or ``sigmoid`` ([0, 1]). lr: Adam step size.
    batch: minibatch (full batch when ≥ M). steps: optimizer steps. schedule/warmup: see TrainConfig."""

    arch: str = "mlp"
    L: int = 10
    H: int = 500
    bound: str = "tanh"
    lr: float = 1e-4
    batch: int = 1000
    steps: int = 10_000
    schedule: str = "constant"
    warmup: int = 0
    seed: int = 0
    bottleneck: int = 0
    patch: int = 0
    heads: int = 0
    objective: str = "manifold"  # core.model.train.parse_objective: manifold, denoise:σ, contractive:λ

    @property
    def value_range(self) -> tuple[float, float]:
        return BOUNDS[self.bound]

    def with_overrides(self, **options) -> Recipe:
        """The recipe with the options that are not None replaced. A shorter ``steps`` than the warm-up
        shortens the warm-up to a tenth of the run (as the preset would be if it were that short)."""
        given = {k: v for k, v in options.items() if v is not None}
        unknown = set(given) - {f.name for f in fields(self)}
        if unknown:
            raise RecipeError(f"not a recipe option: {', '.join(sorted(unknown))}")
        r = replace(self, **given)
        if "warmup" not in given and r.warmup >= r.steps:
            r = replace(r, warmup=r.steps // 10)
        return r

    def spec(self, D: int, shape: tuple[int, ...]) -> ModelSpec:
        """The model spec of this recipe for data of D values per sample and the given sample shape."""
        return ModelSpec(
            D=D,
            L=self.L,
            H=self.H,
            bound=self.bound,
            arch=self.arch,
            shape=tuple(shape),
            bottleneck=self.bottleneck if self.arch == "cnn" else 0,
            patch=self.patch if self.arch == "transformer" else 0,
            heads=self.heads if self.arch == "transformer" else 0,
        )

    def train_config(self, **run) -> TrainConfig:
        """The optimizer part as a TrainConfig; ``run`` sets what is not the recipe's (device, precision,
        eval_size, eval_every, report_interval_s, graphs)."""
        return TrainConfig(
            lr=float(self.lr),
            batch=int(self.batch),
            steps=int(self.steps),
            seed=int(self.seed),
            schedule=self.schedule,
            warmup=int(self.warmup),
            objective=self.objective,
            **run,
        )

    def to_dict(self) -> dict:
        return asdict(self)


def _points_name(source: str) -> str | None:
    return source[len("points:") :] if source.startswith("points:") else None


def recipe_for(
    source: str,
    preset: str | None = None,
    *,
    arch: str = "mlp",
    points_dim: int | None = None,
    value_range: tuple[float, float] | None = None,
) -> Recipe:
    """The recipe of ``preset`` (default ``paper``) for the data source ``source`` (an ``open_source`` key:
    ``mnist``, ``points:1d-sigmoid``, ``points:0.2,0.8``, a file or folder). For points that are not one of
    the paper's sets, ``points_dim`` (1 or 2) and ``value_range`` choose the width and the bound (else they
    are read from the source string: 2-D when a point has a ``/``, Tanh when a value is negative)."""
    preset = preset or DEFAULT_PRESET
    if preset not in PRESET_NAMES:
        raise RecipeError(f"unknown preset {preset!r}; choose {' or '.join(PRESET_NAMES)}")
    if arch not in ARCHITECTURES:
        raise RecipeError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    name = _points_name(source)
    if name is not None:
        if arch != "mlp":
            raise RecipeError(f"the {arch} needs images (C×H×W data) and points are vectors: use the mlp")
        opt = POINT_OPTIMIZER if preset == "paper" else IMAGE_OPTIMIZER["fast"]
        if name in POINT_RECIPES:
            return Recipe(arch="mlp", **POINT_RECIPES[name], **{**POINT_OPTIMIZER, **opt})
        if points_dim is None:
            points_dim = 2 if "/" in name else 1
        if value_range is None:
            negative = any(v.strip().startswith("-") for p in name.split(",") for v in p.split("/"))
            value_range = BOUNDS["tanh"] if negative else BOUNDS["sigmoid"]
        bound = "sigmoid" if value_range[0] >= 0 else "tanh"
        return Recipe(
            arch="mlp", L=6, H=50 if points_dim >= 2 else 10, bound=bound, seed=0, **{**POINT_OPTIMIZER, **opt}
        )
    d = ARCH_DEFAULTS[arch]
    opt = {"lr": d["lr"], **IMAGE_OPTIMIZER[preset]}
    return Recipe(arch=arch, L=d["L"], H=d["H"], bound="tanh", seed=0, **opt)


def about_presets() -> str:
    """What each preset trains, in one paragraph made from the tables above (kgn train --help, the Training
    dock's preset box): never a copy of the numbers that could drift from them."""
    img, fast = recipe_for("mnist", "paper"), IMAGE_OPTIMIZER["fast"]
    points = ", ".join(f"{k} L={v['L']} H={v['H']} {v['bound'].capitalize()}" for k, v in POINT_RECIPES.items())
    po, e = POINT_OPTIMIZER, lambda x: f"{x:.0e}".replace("e-0", "e-")  # 1e-4, as the paper writes it
    return (
        f"paper (default): the published recipe of the data set — images: MLP L={img.L} H={img.H} "
        f"{img.bound.capitalize()}, Adam {e(img.lr)}, batch {img.batch}, {img.steps:,} steps; points: {points}; "
        f"Adam {e(po['lr'])}, full batch, {po['steps']:,} steps. fast (images): Adam {e(fast['lr'])} with "
        f"{fast['warmup']} warm-up steps and cosine decay, batch {fast['batch']}, {fast['steps']:,} steps (it "
        "reaches the paper recipe's loss with about a tenth of the samples). Options given explicitly win"
    )


__all__ = ["DEFAULT_PRESET", "about_presets", "POINT_PRESETS", "PRESET_NAMES", "Recipe", "RecipeError", "recipe_for"]
