"""The registry of measures: what each number ``kgn analyze``, the sweep and the Analysis dock report means.

Each :class:`Measure` says once what was said in five places before: its summary key, its label, its
formula, the range it can take (intervals are clipped to it), whether it comes with a 95 % interval
(``key + "_ci"`` in a summary) and the key of its baseline (the same measure of real data, ``key + "_real"``,
or of the identity map, ``key + "_identity"``). :class:`Estimate` is a value with its interval, read from a
summary; :class:`Measures` is the summary :func:`kgn_gui.analyze` returns (a dict, as the JSON writes it),
with ``estimate(key)`` and ``lines()`` (what ``kgn analyze`` prints).

No torch, no numpy beyond numbers: the window and the CLI read it before any model is loaded.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

INF = math.inf
FRACTION = (0.0, 1.0)
NONNEGATIVE = (0.0, INF)
ANY = (-INF, INF)

REAL_ABOUT = "the same measure for real samples of the data set (the line above the table says which)"
IDENTITY_ABOUT = "baseline: the identity map f(z) = z on the same inputs (the value with no model at all)"


@dataclass(frozen=True)
class Measure:
    """One measure. key: its summary key. label: its short name for people. formula: what it is (a
    tooltip's text). range: (lo, hi) it can take. interval: a summary has its 95 % interval under
    ``key + "_ci"``. real: the key of its baseline (``…_real`` or ``…_identity``), with ``real_about`` saying
    what the baseline is."""

    key: str
    label: str
    formula: str
    range: tuple[float, float] = ANY
    interval: bool = False
    real: str | None = None

    @property
    def real_about(self) -> str:
        if self.real is None:
            return ""
        return IDENTITY_ABOUT if self.real.endswith("_identity") else REAL_ABOUT

    def clip(self, lo: float, hi: float) -> tuple[float, float]:
        """An interval clipped to the range the measure can take."""
        return max(self.range[0], lo), min(self.range[1], hi)


@dataclass(frozen=True)
class Estimate:
    """A value with its 95 % interval [lo, hi] (None when it has none)."""

    value: float | None
    lo: float | None = None
    hi: float | None = None

    @property
    def half(self) -> float | None:
        return None if self.lo is None or self.hi is None else (self.hi - self.lo) / 2

    @classmethod
    def of(cls, summary: dict, key: str) -> Estimate:
        """The value under ``key`` and its interval under ``key + "_ci"`` (kept only when both ends are finite
        numbers)."""
        lo = hi = None
        ci = summary.get(f"{key}_ci")
        try:
            a, b = float(ci[0]), float(ci[1])
            if math.isfinite(a) and math.isfinite(b):
                lo, hi = a, b
        except (TypeError, ValueError, IndexError, KeyError):
            pass
        return cls(summary.get(key), lo, hi)


def _m(key, label, formula, range=ANY, interval=False, real=None) -> Measure:  # noqa: A002 - the field's name
    return Measure(key, label, formula, range, interval, real)


_TOL = "tol = 2.5 % of the value range's span"
MEASURES: tuple[Measure, ...] = (
    # the chains' convergence
    _m("burn_in", "settled at (step)",
       "Settling step (the JSON's burn_in): the first step t after which the median over chains of the\n"
       "noise-free residual ‖f(x_t) − x_t‖/√D stays below the tolerance (– when it ends above it). A\n"
       "settling time, not stationarity: the distribution may still change after it (kgn analyze --over-t)",
       NONNEGATIVE),
    _m("converged", "converged",
       "Fraction of chains with ‖f(x_T) − x_T‖/√D < tol, the same for every noise kind\n"
       f"(noise-free residual at the shown step; {_TOL})", FRACTION),
    _m("cycles", "cycles",
       "Fraction of the chains that did not converge whose noise-free continuation from x_T\n"
       "returns within tol of x_T after k = 2 … 8 steps (a k-cycle)", FRACTION),
    _m("residual_median", "median residual",
       "Median over chains of the noise-free residual ‖f(x_T) − x_T‖/√D at the last step", NONNEGATIVE),
    _m("contraction_last", "contraction q",
       "q_t = s_t / s_{t−1} with s_t = ‖x_{t+1} − x_t‖/√D, median over chains, at the last step: < 1 contracts",
       NONNEGATIVE),
    # memorization
    _m("copy_fraction", "copies",
       "Fraction of chains within 0.05 (RMS per value) of a training example: memorized samples", FRACTION),
    _m("distinct", "distinct", "How many different training examples are some chain's nearest (coverage)",
       NONNEGATIVE),
    _m("top_basin_share", "largest basin",
       "Share of the chains whose nearest training example is the most common one", FRACTION),
    _m("nearest_mean", "nearest distance",
       "Mean over chains of the RMS distance ‖x − x_j‖/√D to the nearest training example x_j.\n"
       "Below the real data's value the samples sit closer to the training set than unseen data\n"
       "does: lower is not better past that level", NONNEGATIVE, True, "nearest_mean_real"),
    # the distribution, in a feature space
    _m("class_entropy", "class entropy",
       "Entropy of the feature classifier's labels of the samples / log(classes):\n"
       "1 = every class equally often, 0 = a single class", FRACTION, True, "class_entropy_real"),
    _m("confidence", "confidence", "Mean top-class probability the feature classifier gives the samples",
       FRACTION),
    _m("frechet", "Fréchet",
       "Fréchet distance ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½) between Gaussians fitted to the\n"
       "features of the samples and of the reference set (the feature space is named above the table).\n"
       "FID-style, NOT comparable with Inception FID; it has a floor at small n: compare it with real data's",
       NONNEGATIVE, True, "frechet_real"),
    _m("kid", "KID",
       "Kernel distance: unbiased MMD² between the features of the samples and of the reference set\n"
       "with the cubic polynomial kernel k(a, b) = (aᵀb / d + 1)³ (d = feature dimension).\n"
       "≈ 0 for two samples of one distribution; unbiased, so meaningful at small n (may dip below 0)",
       ANY, True, "kid_real"),
    _m("precision", "precision",
       "Kynkäänniemi et al. 2019: the fraction of the samples' features inside the reference set's\n"
       "k-NN manifold (the union of balls around each reference feature reaching its k-th nearest\n"
       "reference neighbour, k = 3): how many samples look real (quality)", FRACTION, True, "precision_real"),
    _m("recall", "recall",
       "Kynkäänniemi et al. 2019: the fraction of the reference set's features inside the samples'\n"
       "k-NN manifold (k = 3): how much of the real data the samples cover (coverage)",
       FRACTION, True, "recall_real"),
    # mixing
    _m("mixing", "mixing",
       "Class changes per 100 steps after burn-in: for each chain, how often the feature classifier's\n"
       "class of x_t changes from one look to the next (its nearest training example's when there are no\n"
       "classes), averaged over chains. 0: each chain stays with what it found (a retrieval);\n"
       "higher: it wanders between classes (a sampler). – when not measured: Mixing… measures it\n"
       "against ε and the noise kind (the Mixing tab)", NONNEGATIVE),
    _m("mixing_class", "mixing (class)", "Class changes per 100 steps per chain after burn-in", NONNEGATIVE),
    _m("mixing_nearest", "mixing (nearest)",
       "Nearest-training-example changes per 100 steps per chain after burn-in", NONNEGATIVE),
    # the model's output range
    _m("inside_training_range", "in training range",
       "Outputs in training range (over-generalization): the fraction of f(z) values, z uniform on the\n"
       "whole input box, inside the training data's per-value [min, max]. Depends on the model only",
       FRACTION, False, "inside_training_range_identity"),
    _m("saturated", "saturated",
       "Saturated outputs: the fraction of f(z) values, z uniform on the whole input box, within\n"
       "1e-3 of the span of the output bounds. Depends on the model only", FRACTION, False, "saturated_identity"),
    # the attractor audit
    _m("attractor_fraction", "attractors (audit)",
       "Attractor audit: training examples refined to fixed points of f (iterated without noise);\n"
       "among those whose residual ‖f(x*) − x*‖/√D is below the tolerance (fixed), the fraction whose\n"
       "Jacobian spectral radius ρ < 1 (attracting). Points that did not reach a fixed point are left\n"
       "out: ρ means nothing there. Iterating f can only land on attracting points, so this is ≈ 1 by\n"
       "construction: the fixed-point census (root finding) is the test", FRACTION),
    _m("audit_fixed", "fixed (audit)", "Audited training examples that reached a fixed point", NONNEGATIVE),
    _m("rho_median", "median ρ", "Median Jacobian spectral radius ρ at the audit's fixed points", NONNEGATIVE),
    _m("rho_max", "largest ρ", "Largest Jacobian spectral radius ρ at the audit's fixed points", NONNEGATIVE),
    _m("residual_max", "largest residual", "Largest residual ‖f(x*) − x*‖/√D of the audit's refined points",
       NONNEGATIVE),
    # the memorization census
    _m("memorized_fraction", "memorized",
       "Memorized: the fraction of samples whose nearest training example is much nearer than the second\n"
       "nearest, d₁/d₂ < 1/3 (Gu et al. 2023). Interval: Wilson 95 %. Real: the same of real unseen samples\n"
       "(leave-one-out where the data has no held-out split)", FRACTION, True, "memorized_fraction_real"),
    _m("memorized", "memorized (count)", "Samples with d₁/d₂ < 1/3", NONNEGATIVE),
    _m("spurious", "spurious (count)",
       "Samples not memorized and farther from the training data (d₁) than 95 % of real unseen samples",
       NONNEGATIVE),
    _m("novel", "novel (count)",
       "Samples not memorized and as near the training data as real unseen samples are", NONNEGATIVE),
    # the fixed-point census (root finding)
    _m("fixed_points_found", "fixed points found",
       "Distinct roots of f(x) − x reached by Newton (with Levenberg–Marquardt steps) from training\n"
       "examples and chain ends, residual ‖f(x*) − x*‖/√D below 1e-6", NONNEGATIVE),
    _m("fixed_points_converged", "starts converged", "Newton runs that reached a root", NONNEGATIVE),
    _m("fixed_points_attracting", "attracting", "Roots whose Jacobian eigenvalues all have |λ| < 1",
       NONNEGATIVE),
    _m("fixed_points_saddle", "saddles", "Roots with some |λ| < 1 and some |λ| ≥ 1", NONNEGATIVE),
    _m("fixed_points_repelling", "repelling", "Roots whose Jacobian eigenvalues all have |λ| > 1",
       NONNEGATIVE),
    _m("training_rho_median", "ρ at training examples",
       "Median spectral radius of J_f at training examples themselves (> 1: f expands there)", NONNEGATIVE),
    _m("training_below_1", "training ρ < 1", "Fraction of training examples where ρ(J_f) < 1", FRACTION),
    _m("training_residual_median", "training residual",
       "Median ‖f(x) − x‖/√D at training examples (0: the example is a fixed point)", NONNEGATIVE),
    _m("training_drift_median", "drift to root",
       "Median ‖x* − x‖/√D from a training example to the root its Newton run reached", NONNEGATIVE),
    _m("recovery", "basin recovery",
       "Basin recovery at σ: the fraction of training examples, perturbed by Gaussian noise of σ and\n"
       "iterated without noise, that come back to within tol of where they started", FRACTION),
    _m("recovery_chance", "recovery by chance",
       "Chance level of basin recovery at σ: the fraction of corrupted examples that end within tol of\n"
       "another example's clean end (1 for a constant map). Recovery means something only above it",
       FRACTION),
    _m("recovery_distinct_ends", "distinct clean ends",
       "How many distinct points the clean examples reach after T noise-free steps (merged within tol)",
       NONNEGATIVE),
    # stationarity
    _m("autocorrelation_time_median", "τ (steps)",
       "Integrated autocorrelation time τ (steps) of each chain's coordinates on the training data's top 3\n"
       "principal components after the settling step (Sokal's window; a chain's slowest), median over chains",
       NONNEGATIVE),
    _m("ess_median", "ESS a chain",
       "Effective sample size per chain, n / τ over the n steps after the settling step, median over chains",
       NONNEGATIVE),
    # training (a sweep's runs)
    _m("train_loss", "training loss", "Best loss on the fixed evaluation subset of the training data",
       NONNEGATIVE),
    _m("steps_trained", "steps trained", "Optimizer steps the training ran", NONNEGATIVE),
    _m("best_step", "best step", "The step of the best evaluation loss (whose weights were kept)", NONNEGATIVE),
    _m("train_seconds", "training time (s)", "Wall time of the training", NONNEGATIVE),
    _m("reached_target", "reached target", "Whether (over seeds: how often) the target loss was reached",
       FRACTION),
    _m("diverged", "diverged", "Whether (over seeds: how often) the loss became NaN or infinite", FRACTION),
)  # fmt: skip
MEASURE: dict[str, Measure] = {m.key: m for m in MEASURES}

# The Analysis dock's rows, in order; the class rows need a feature classifier; the model's rows are kept when
# only the chains change
PANEL = (
    "burn_in", "converged", "cycles", "contraction_last", "copy_fraction", "memorized_fraction", "distinct",
    "top_basin_share", "nearest_mean", "class_entropy", "confidence", "frechet", "kid", "precision", "recall",
    "mixing", "autocorrelation_time_median", "ess_median", "inside_training_range", "saturated",
    "attractor_fraction",
)  # fmt: skip
CLASS_MEASURES = ("class_entropy", "confidence")
MODEL_MEASURES = ("attractor_fraction",)


OVER_T = ("class_entropy", "frechet", "recall", "memorized_fraction")  # the measures the dock's over-t line follows


def over_t_text(over: list[dict], final: dict) -> str:
    """The Analysis dock's line of the distribution over the steps: ``over`` (rows with ``t``, as
    ``Analysis.over_t``) then the shown step's ``final`` summary, e.g. "steps 30 · 100 · 300: entropy
    0.69 · 0.63 · 0.64, Fréchet 406 · 512 · 572"; "" when there is no earlier step."""
    if not over:
        return ""
    rows = [*over, final]
    parts = [f"steps {' · '.join(fmt(r.get('t', final.get('steps'))) for r in rows)}"]
    for key in OVER_T:
        if any(finite(r.get(key)) for r in rows):
            parts.append(f"{MEASURE[key].label} {' · '.join(fmt(r.get(key)) for r in rows)}")
    return ", ".join(parts)


def measure_of(column: str) -> Measure | None:
    """The measure a summary key or CSV column belongs to — ``frechet``, ``frechet_real``, ``frechet_ci``,
    ``frechet_lo``, ``saturated_identity``, ``recovery_0.1`` — or None for a setting or a word."""
    key = column
    for suffix in ("_lo", "_hi", "_ci", "_real", "_identity"):
        if key not in MEASURE:
            key = key.removesuffix(suffix)
    if key.startswith("recovery_chance_"):
        key = "recovery_chance"
    elif recovery_sigma(key) is not None:
        key = "recovery"
    return MEASURE.get(key)


def recovery_sigma(key: str) -> float | None:
    """σ of a recovery-rate key (``recovery_0.1`` → 0.1), None for any other key (``recovery_chance_0.1``,
    ``recovery_distinct_ends``)."""
    if not key.startswith("recovery_"):
        return None
    try:
        return float(key[len("recovery_") :])
    except ValueError:
        return None


def clip(column: str, lo: float, hi: float) -> tuple[float, float]:
    """An interval of ``column`` clipped to the range its measure can take (as it is, for a column that is
    not a measure's)."""
    m = measure_of(column)
    return (lo, hi) if m is None else m.clip(lo, hi)


def finite(v) -> bool:
    """A number a measure can show: real and finite (None, a bool, a text or NaN is not)."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def fmt(v) -> str:
    """A number as the table shows it: 3 significant digits, '–' for none or not finite."""
    if v is None or isinstance(v, bool):
        return "–" if v is None else str(v)
    if isinstance(v, int) or type(v).__name__.startswith(("int", "uint")):  # numpy whole numbers too
        return str(int(v))
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(v):
        return "–"
    if v == 0:
        return "0"  # never "-0"
    if 1000 <= abs(v) < 1e6:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def fmt_half(h: float) -> str:
    """A half-width: 2 significant digits (whole numbers from 10 on), short enough for its column."""
    h = abs(float(h))
    if h == 0:
        return "0"
    if h >= 10:
        return f"{h:,.0f}"
    return f"{h:.2g}" if h >= 1e-3 else f"{h:.1e}"


def plus_minus(e: Estimate) -> str:
    """An estimate's half-width as its column shows it: "± h", or "–" without an interval."""
    return "–" if e.half is None else f"± {fmt_half(e.half)}"


def bracket(e: Estimate) -> str:
    """An estimate's interval as "[lo, hi]" ("" without one)."""
    return "" if e.lo is None else f"[{e.lo:.4g}, {e.hi:.4g}]"


def shown(v) -> str:
    """A value as ``kgn analyze`` prints it: 4 significant digits, – for none."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)) and all(isinstance(x, float) for x in v):
        return "[" + ", ".join(f"{x:.4g}" for x in v) + "]"
    if isinstance(v, dict):
        return ", ".join(f"{k} {shown(x)}" for k, x in v.items())
    return "–" if v is None else str(v)


class Measures(dict):
    """The measures of a model's chains, as :func:`kgn_gui.analyze` returns them: the dict ``kgn analyze
    --json`` writes (settings, values, ``…_ci`` intervals, ``…_real`` / ``…_identity`` baselines), with
    :meth:`estimate` and :meth:`lines`."""

    def estimate(self, key: str) -> Estimate:
        """The value of ``key`` with its interval."""
        return Estimate.of(self, key)

    def baseline(self, key: str) -> Estimate | None:
        """The baseline of the measure ``key`` (real data's, or the identity map's), with its interval."""
        m = MEASURE.get(key)
        return None if m is None or m.real is None or m.real not in self else Estimate.of(self, m.real)

    def lines(self) -> list[str]:
        """One line a key, as ``kgn analyze`` prints: a measure's value, its 95 % interval and its baseline
        beside it (``real`` or ``identity``); the mixing scan as a table at the end."""
        folded = set()
        for k in self:
            m = MEASURE.get(k)
            if m is not None:
                folded.add(f"{k}_ci")
                if m.real is not None:
                    folded.update((m.real, f"{m.real}_ci"))
        keys = [k for k in self if k not in ("mixing_scan", "baselines", "over_t", "halves") and k not in folded]
        width = max((len(k) for k in keys), default=0)
        out = []
        for k in keys:
            line = f"{k:<{width}}  {shown(self[k])}"
            e = self.estimate(k)
            if k in MEASURE and e.lo is not None:
                line += f"  95 % {shown([e.lo, e.hi])}"
            base = self.baseline(k)
            if base is not None:
                line += f"  {'identity' if MEASURE[k].real.endswith('_identity') else 'real'} {shown(base.value)}"
                if base.lo is not None:
                    line += f" {shown([base.lo, base.hi])}"
            out.append(line)
        h = self.get("halves")
        if h:
            out.append(
                f"two halves, against {h['against']}: paired distance {shown(h['paired_mean'])} "
                f"95 % {shown(h['paired_mean_ci'])}, random pairs {shown(h['random_mean'])}, ratio "
                f"{shown(h['ratio'])} 95 % {shown(h['ratio_ci'])}, own pair closer for {shown(h['closer_fraction'])}"
            )
        over = self.get("over_t")
        if over:
            cols = [c for c in ("class_entropy", "frechet", "kid", "precision", "recall", "memorized_fraction")
                    if any(c in row for row in over)]  # fmt: skip
            short = {"class_entropy": "entropy", "memorized_fraction": "memorized"}
            out.append("over the steps (no intervals; the last row is the final step, with them above):")
            out.append(f"  {'t':>7}" + "".join(f"{short.get(c, c):>11}" for c in cols))
            for row in [*over, {"t": self.get("steps"), **{c: self.get(c) for c in cols}}]:
                out.append(f"  {shown(row['t']):>7}" + "".join(f"{shown(row.get(c)):>11}" for c in cols))
        base = self.get("baselines")
        if base:
            cols = [c for c in ("class_entropy", "frechet", "kid", "precision", "recall", "memorized_fraction")
                    if any(c in row for row in base.values())]  # fmt: skip
            out.append("baselines (the same measures of simple generators, same n):")
            short = {"class_entropy": "entropy", "memorized_fraction": "memorized"}
            out.append(f"  {'':<13}" + "".join(f"{short.get(c, c):>11}" for c in cols))
            rows = [("chains", self)] + list(base.items())
            if "frechet_real" in self:
                rows.append(("real", {c: self.get(f"{c}_real") for c in cols}))
            for name, row in rows:
                out.append(f"  {name:<13}" + "".join(f"{shown(row.get(c)):>11}" for c in cols))
        scan = self.get("mixing_scan")
        if scan:
            out.append("mixing (changes per 100 steps per chain, after burn-in):")
            out.append(f"  {'noise':<9} {'eps':>7} {'burn-in':>8} {'class':>8} {'nearest':>8}")
            for r in scan:
                out.append(
                    f"  {r['noise']:<9} {r['eps']:>7g} {shown(r['burn_in']):>8} "
                    f"{shown(r['mixing_class']):>8} {shown(r['mixing_nearest']):>8}"
                )
        return out


__all__ = ["MEASURE", "MEASURES", "PANEL", "Estimate", "Measure", "Measures", "clip", "fmt", "fmt_half", "measure_of"]
