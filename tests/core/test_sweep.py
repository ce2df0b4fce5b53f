"""The depth sweep's training to a target loss and its statistics over seeds (known answers)."""

import math

import pytest

from kgn_gui.core.data.sources import open_source
from kgn_gui.core.experiment.sweep import SweepConfig, aggregate, read_csv, t_interval, train_run


def test_the_t_interval_of_known_values():
    m, lo, hi = t_interval([1.0, 2.0, 3.0])  # sd 1, t(0.975, 2) = 4.3027
    assert (
        m == 2.0 and lo == pytest.approx(2 - 4.30265273 / math.sqrt(3)) and hi == pytest.approx(2 + 4.30265273 / 3**0.5)
    )
    assert t_interval([5.0]) == (5.0, 5.0, 5.0)
    assert all(math.isnan(v) for v in t_interval([]))


def test_aggregate_means_over_seeds_and_names_what_is_missing():
    runs = [
        {"depth": 1, "seed": 0, "parameters": 10, "frechet": 4.0, "burn_in": 3.0, "frechet_ci_lo": 1.0, "space": None},
        {
            "depth": 1,
            "seed": 1,
            "parameters": 10,
            "frechet": 6.0,
            "burn_in": math.nan,
            "frechet_ci_lo": 2.0,
            "space": None,
        },
        {"depth": 2, "seed": 0, "parameters": 30, "frechet": 8.0, "burn_in": 5.0, "frechet_ci_lo": 3.0, "space": None},
    ]
    one, two = aggregate(runs)
    assert one["depth"] == 1 and one["seeds"] == 2 and one["parameters"] == 10 and "parameters_lo" not in one
    assert one["frechet"] == 5.0 and one["frechet_lo"] == 0.0  # 5 − 12.7, clipped at 0 and "frechet_ci_lo" not in one
    assert one["burn_in"] == 3.0 and one["missing"] == "burn_in:1" and one["space"] is None
    assert two["frechet"] == two["frechet_lo"] == two["frechet_hi"] == 8.0 and two["missing"] == ""


def _cfg(**kw):
    base = dict(source="points:2d-corners", depths=(2,), H=8, bound="sigmoid", batch=16, seeds=(0,))
    return SweepConfig(**{**base, **kw})


def test_training_to_a_target_loss_stops_at_the_first_evaluation_that_reaches_it():
    ds = open_source("points:2d-corners", (0.0, 1.0))
    cfg = _cfg(steps=5000, target_loss=10.0, eval_every=20)  # any loss is ≤ 10
    tr, facts = train_run(cfg, cfg.spec(2, ds), ds, 0)
    assert facts["reached_target"] is True and facts["steps_trained"] <= 20
    cfg = _cfg(steps=60, target_loss=1e-12, eval_every=20)  # never reached: the cap ends it
    tr, facts = train_run(cfg, cfg.spec(2, ds), ds, 0)
    assert facts["reached_target"] is False and facts["steps_trained"] == 60
    assert facts["train_loss"] == pytest.approx(tr.best_loss) and facts["train_loss"] > 1e-12


@pytest.mark.parametrize(
    "kw, needle",
    [
        ({"seeds": ()}, "seeds must be"),
        ({"seeds": (0, 0)}, "must not repeat"),
        ({"seeds": tuple(range(17))}, "at most 16 seeds"),
        ({"target_loss": 0.0}, "target loss"),
        ({"target_loss": math.inf}, "target loss"),
        ({"depths": (2, 2)}, "depths must not repeat"),
    ],
)
def test_bad_sweep_settings_are_refused(kw, needle):
    base = {"source": "points:2d-corners", "H": 8}
    with pytest.raises(ValueError, match=needle):
        SweepConfig(**{**base, **kw}).validate()


def test_intervals_are_clipped_to_the_range_of_their_measure():
    runs = [{"depth": 1, "seed": s, "precision": p, "frechet": f, "kid": k} for s, p, f, k in
            ((0, 0.1, 1.0, -2.0), (1, 0.9, 50.0, 2.0))]  # fmt: skip
    (row,) = aggregate(runs)
    assert (row["precision_lo"], row["precision_hi"]) == (0.0, 1.0)  # 0.5 ± 5.08, clipped to [0, 1]
    assert row["frechet_lo"] == 0.0 and row["frechet_hi"] == pytest.approx(25.5 + 12.7062047 * 24.5)
    assert row["kid_lo"] == pytest.approx(-12.7062047 * 2)  # the unbiased KID may be negative


def test_rebuild_writes_the_same_sweep_csv_from_the_runs(tmp_path):
    from kgn_gui.core.experiment.sweep import rebuild, run_sweep

    cfg = _cfg(steps=20, seeds=(0, 1), chains=8, sample_steps=5, audit=1, sigmas=(0.1,), recovery_n=4)
    cfg.depths = (1, 2)
    run_sweep(cfg, tmp_path / "sw")
    before = read_csv(tmp_path / "sw" / "sweep.csv")
    first = (tmp_path / "sw" / "sweep.csv").read_text().splitlines()[0]
    (tmp_path / "sw" / "sweep.csv").unlink()
    rows = rebuild(tmp_path / "sw")
    after = read_csv(tmp_path / "sw" / "sweep.csv")
    assert (tmp_path / "sw" / "sweep.csv").read_text().splitlines()[0] == first and [r["depth"] for r in rows] == [1, 2]
    assert [list(r) for r in after] == [list(r) for r in before]
    for a, b in zip(after, before):  # the same, up to the 6 digits the runs' CSV keeps
        for k in a:
            try:
                x, y = float(a[k]), float(b[k])
            except ValueError:
                assert a[k] == b[k], k
                continue
            assert x == pytest.approx(y, rel=1e-3, abs=1e-5, nan_ok=True), k
