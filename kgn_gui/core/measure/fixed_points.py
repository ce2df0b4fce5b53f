"""Fixed points of f found by root finding, and classified by the spectrum of J_f there.

Iterating f without noise (the attractor audit of :mod:`dynamics`) can only land on attracting points, so
"every fixed point found attracts" holds by construction. Here the roots of g(x) = f(x) − x are found by
Newton steps with the exact Jacobian, x ← x − (J_f(x) − I)⁻¹ g(x), falling back to Levenberg–Marquardt
steps where a Newton step does not lower ‖g‖ ("newton-lm"): they converge to a nondegenerate root near the
start whatever its kind — attracting, saddle or repelling.

Starts: training examples (seeded) and, when given, chain ends. A start converges when the RMS residual
‖f(x) − x‖/√D falls below ``tol``; converged starts that land within ``merge_tol`` (RMS) of one another are
one root. Each root's eigenvalues λ of J_f(x*) classify it: attracting when every |λ| < 1, repelling when
every |λ| > 1, saddle otherwise. At the training examples themselves: ρ(J_f(x)) (the spectral radius: f
expands somewhere near x when > 1), the residual ‖f(x) − x‖/√D and the drift ‖x* − x‖/√D to the root its
Newton run reached.

The work is done in float64 on a copy of the model, on the CPU; exact Jacobians need D ≤ ``MAX_D``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import Cancelled

MAX_D = 2048  # exact Jacobians (D×D float64) per point; beyond this the census is not run
KINDS = ("attracting", "saddle", "repelling")
STALL, STALL_STEPS = 0.1, 3  # a run lowering its residual by less than 10 % over 3 steps has stalled


def classify(eigenvalues) -> str:
    """'attracting' (every |λ| < 1), 'repelling' (every |λ| > 1) or 'saddle' (the rest)."""
    a = np.abs(np.asarray(eigenvalues))
    if (a < 1).all():
        return "attracting"
    if (a > 1).all():
        return "repelling"
    return "saddle"


def _jacobians(f, x: torch.Tensor) -> torch.Tensor:
    """J_f at each row of x (N×D) → N×D×D."""
    from torch.func import jacrev, vmap

    return vmap(jacrev(lambda v: f(v[None])[0]))(x)


@dataclass
class Roots:
    """Newton runs from N starts: where each ended, its residual, whether it converged, its steps."""

    x: np.ndarray  # N×D end points
    residual: np.ndarray  # ‖f(x) − x‖/√D at the end
    converged: np.ndarray  # residual < tol
    steps: np.ndarray  # Newton steps taken


def _attempt(f, x, g, r, dx, skip):
    """Take the step dx where it lowers the residual r (rows not in ``skip``): (x, g, r, which took it)."""
    nx = x + torch.nan_to_num(dx)
    ng = f(nx) - nx
    nr = ng.pow(2).mean(1).sqrt()
    ok = (nr < r) & ~skip
    return torch.where(ok[:, None], nx, x), torch.where(ok[:, None], ng, g), torch.where(ok, nr, r), ok


def newton_roots(
    f: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    steps: int = 30,
    tol: float = 1e-6,
    chunk: int = 8,
    cancelled: Callable[[], bool] | None = None,
    jac0: Callable[[int, np.ndarray], None] | None = None,
) -> Roots:
    """Roots of g(x) = f(x) − x from each row of x0 (N×D float64), ``chunk`` rows at a time. Each step takes
    the exact Jacobian A = J_f − I and tries the Newton step −A⁻¹g (halved up to twice); when that does not
    lower ‖g‖ it takes Levenberg–Marquardt steps −(AᵀA + μI)⁻¹Aᵀg, μ growing until one does (and shrinking
    after each success), so ‖g‖ never rises. A run converges when its residual falls below ``tol``; it is
    then polished (Newton converges quadratically) to 10⁻⁴·tol or until no step lowers it. A run that is
    not below ``tol`` and has lowered its residual by less than ``STALL`` over the last ``STALL_STEPS``
    steps has stalled (a minimum of ‖g‖ that is no root: a slow point) and ends there. Each step works on
    the runs still going only. ``jac0(row, J)``, when given, receives J_f at each start (what the census
    needs of training examples)."""
    polish = tol * 1e-4
    xs, res, taken = [], [], []
    D = x0.shape[1]
    eye = torch.eye(D, dtype=x0.dtype)
    for c0 in range(0, len(x0), chunk):
        x = x0[c0 : c0 + chunk].clone()
        n = len(x)
        g = f(x) - x
        r = g.pow(2).mean(1).sqrt()
        mu = torch.full((n,), 1e-4, dtype=x.dtype)
        done = r < polish
        k = torch.zeros(n, dtype=torch.long)
        history = [r.clone()]  # the residuals after each step
        if jac0 is not None:
            J = _jacobians(f, x)
            for i in range(n):
                jac0(c0 + i, J[i].numpy())
        for step in range(steps):
            if cancelled is not None and cancelled():
                raise Cancelled("cancelled")
            rows = (~done).nonzero().squeeze(1)
            if not len(rows):
                break
            if jac0 is not None and step == 0:
                J = J[rows]
            else:
                J = _jacobians(f, x[rows])
            xa, ga, ra, ma = x[rows], g[rows], r[rows], mu[rows]
            A = J - eye
            moved = torch.zeros(len(rows), dtype=torch.bool)
            try:  # (numpy's LAPACK: torch's batched float64 solve stalled for minutes from a worker thread)
                newton = torch.from_numpy(np.linalg.solve(A.numpy(), -ga.numpy()[..., None])[..., 0])
            except np.linalg.LinAlgError:  # singular somewhere: the damped steps below
                newton = torch.zeros_like(xa)
            for alpha in (1.0, 0.5, 0.25):
                xa, ga, ra, ok = _attempt(f, xa, ga, ra, alpha * newton, moved)
                moved |= ok
                if bool(moved.all()):
                    break
            if not bool(moved.all()):
                At = A.transpose(1, 2)
                AtA, Atg = At @ A, At @ ga.unsqueeze(-1)
                for _ in range(10):
                    lm = -torch.from_numpy(
                        np.linalg.solve((AtA + ma[:, None, None] * eye).numpy(), Atg.numpy())[..., 0]
                    )
                    xa, ga, ra, ok = _attempt(f, xa, ga, ra, lm, moved)
                    ma = torch.where(ok, (ma / 3).clamp_min(1e-12), torch.where(moved, ma, ma * 4))
                    moved |= ok
                    if bool(moved.all()):
                        break
            x[rows], g[rows], r[rows], mu[rows] = xa, ga, ra, ma
            k[rows] += 1
            history.append(r.clone())
            stalled = torch.zeros(n, dtype=torch.bool)
            if len(history) > STALL_STEPS:
                stalled = (r >= tol) & (r > (1 - STALL) * history[-1 - STALL_STEPS])
            gone = torch.zeros(n, dtype=torch.bool)
            gone[rows] = ~moved  # nothing lowers the residual: as far as it gets from here
            done = done | (r < polish) | gone | stalled
        xs.append(x)
        res.append(r)
        taken.append(k)
    if not xs:  # no starts: no roots
        return Roots(x=np.empty((0, D)), residual=np.empty(0), converged=np.empty(0, bool), steps=np.empty(0, int))
    residual = torch.cat(res).numpy()
    return Roots(x=torch.cat(xs).numpy(), residual=residual, converged=residual < tol, steps=torch.cat(taken).numpy())


def distinct(points: np.ndarray, merge_tol: float) -> tuple[np.ndarray, np.ndarray]:
    """(representatives, label of each point): points within ``merge_tol`` RMS of an earlier representative
    are that one."""
    reps: list[np.ndarray] = []
    labels = np.empty(len(points), np.int64)
    for i, p in enumerate(points):
        for j, q in enumerate(reps):
            if np.sqrt(np.mean((p - q) ** 2)) < merge_tol:
                labels[i] = j
                break
        else:
            labels[i] = len(reps)
            reps.append(p)
    return (np.stack(reps) if reps else np.empty((0, points.shape[1]))), labels


@dataclass
class FixedPointCensus:
    roots: np.ndarray  # K×D distinct roots
    kinds: list[str]  # each root's class
    root_rho: np.ndarray  # ρ(J_f) at each root
    starts: int  # Newton runs
    converged: int  # of them, how many reached a root
    train_rho: np.ndarray  # ρ(J_f(x)) at each training example audited
    train_residual: np.ndarray  # ‖f(x) − x‖/√D there
    train_drift: np.ndarray  # ‖x* − x‖/√D to the root its run reached (NaN when it reached none)
    tol: float = 1e-6
    method: str = "newton-lm"
    note: str = ""
    indices: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    def count(self, kind: str) -> int:
        return sum(k == kind for k in self.kinds)

    def summary(self) -> dict:
        def med(a):
            a = np.asarray(a, np.float64)
            a = a[np.isfinite(a)]
            return float(np.median(a)) if len(a) else float("nan")

        out = {
            "fixed_points_method": self.method,
            "fixed_points_starts": self.starts,
            "fixed_points_converged": self.converged,
            "fixed_points_found": len(self.kinds),
            **{f"fixed_points_{k}": self.count(k) for k in KINDS},
            "training_rho_median": med(self.train_rho),
            "training_below_1": float((self.train_rho < 1).mean()) if len(self.train_rho) else float("nan"),
            "training_residual_median": med(self.train_residual),
            "training_drift_median": med(self.train_drift),
        }
        if self.note:
            out["fixed_points_note"] = self.note
        return out

    def short(self) -> str:
        """ "; roots K: A attr, S saddle, R rep" (the window's audit row), or "" when the census was not run."""
        if self.note:
            return ""
        k = [self.count(x) for x in KINDS]
        return f"; roots {len(self.kinds)}: {k[0]} attr, {k[1]} saddle, {k[2]} rep"

    def tip_text(self) -> str:
        """The census as the audit's tooltip ends: a heading and :meth:`lines`."""
        return "\n\nRoot finding (Newton, any kind of fixed point):\n" + "\n".join(self.lines())

    def lines(self) -> list[str]:
        s = self.summary()
        if self.note:
            return [f"fixed points: {self.note}"]
        return [
            f"fixed points (Newton from {self.starts} starts, {self.converged} converged): {len(self.kinds)} distinct — "
            f"{s['fixed_points_attracting']} attracting, {s['fixed_points_saddle']} saddle, "
            f"{s['fixed_points_repelling']} repelling",
            f"at the training examples: ρ(J_f) median {s['training_rho_median']:.3g} "
            f"({s['training_below_1']:.0%} below 1), residual median {s['training_residual_median']:.3g}, "
            f"drift to their root median {s['training_drift_median']:.3g}",
        ]


def fixed_point_census(
    model,
    train_x: np.ndarray,
    n: int = 16,
    seed: int = 0,
    chain_ends: np.ndarray | None = None,
    steps: int = 30,
    tol: float = 1e-6,
    merge_tol: float = 1e-3,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> FixedPointCensus:
    """Root-find fixed points from ``n`` training examples (drawn with ``seed``) and from ``chain_ends``
    (rows, optional); classify each distinct root by J_f's spectrum; ρ, residual and drift at the examples."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(train_x), size=min(n, len(train_x)), replace=False))
    D = int(np.asarray(train_x).shape[1])
    if D > MAX_D:
        nan = np.full(len(idx), np.nan)
        note = f"not run: exact Jacobians need D ≤ {MAX_D:,}, the model has D = {D:,}"
        return FixedPointCensus(np.empty((0, D)), [], np.empty(0), 0, 0, nan, nan, nan, tol, note=note, indices=idx)
    f64 = copy.deepcopy(model).to("cpu", torch.float64).eval()
    for p in f64.parameters():
        p.requires_grad_(False)
    starts = [np.asarray(train_x[idx], np.float64)]
    if chain_ends is not None and len(chain_ends):
        starts.append(np.asarray(chain_ends, np.float64).reshape(len(chain_ends), D))
    x0 = torch.from_numpy(np.concatenate(starts))
    n_train = len(idx)
    train_rho = np.full(n_train, np.nan)

    def at_start(row: int, J: np.ndarray) -> None:
        if row < n_train:
            train_rho[row] = float(np.abs(np.linalg.eigvals(J)).max())
        if progress is not None:
            progress(row + 1, len(x0))

    roots = newton_roots(f64, x0, steps=steps, tol=tol, cancelled=cancelled, jac0=at_start)
    with torch.no_grad():
        xt = x0[:n_train]
        train_res = (f64(xt) - xt).pow(2).mean(1).sqrt().numpy()
    ok = roots.converged
    reps, _ = distinct(roots.x[ok], merge_tol)
    kinds, rho = [], []
    if len(reps):
        Js = _jacobians(f64, torch.from_numpy(reps)).numpy()
        for J in Js:
            ev = np.linalg.eigvals(J)
            kinds.append(classify(ev))
            rho.append(float(np.abs(ev).max()))
    drift = np.sqrt(np.mean((roots.x[:n_train] - x0[:n_train].numpy()) ** 2, axis=1))
    drift[~ok[:n_train]] = np.nan
    return FixedPointCensus(
        roots=reps,
        kinds=kinds,
        root_rho=np.asarray(rho),
        starts=len(x0),
        converged=int(ok.sum()),
        train_rho=train_rho,
        train_residual=train_res,
        train_drift=drift,
        tol=tol,
        indices=idx,
    )
