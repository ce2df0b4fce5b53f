"""The one guard for unsaved work: every path that would replace or drop weights that are in no file asks here.

Four kinds of work can be lost:

* the current model's weights, when they came from training (or a restored recovery) and were never saved —
  Open, Open recent, Open bundled model, a dropped file, a Points preset, Points training, Compare depths,
  Use weights, Restore and Quit all ask before they replace them;
* Compare depths' second depth, shown beside the current model and in no file (``TrainingController.beside``)
  — the same paths ask before they close the comparison;
* a training that runs, the Training dock's or the Points tab's — quitting stops it (its best weights so far
  can be saved);
* a training that finished and whose weights were never used nor saved (the dock's latest run, or the
  latest run of all) — they live in a temporary folder that quitting deletes.

The questions are callables, so the window shows dialogs and tests answer them: ``ask(doing)`` about the model's
weights, ``ask_run(what, doing)`` about a training run's; each returns "save", "discard" or "cancel".
"""

from __future__ import annotations

from collections.abc import Callable

from ...core.model.train import format_loss
from ...core.wording import count
from .model import ModelController
from .training import TrainingController, TrainingRun

Answer = str  # "save", "discard" or "cancel"


class UnsavedGuard:
    """``confirm(doing)`` before the current weights are replaced; ``confirm_quit()`` before the app closes.

    save_model(): Save model as… (True when saved). save_run(run): save a training run's weights with a
    dialog (True when saved). ``dock_run``: the Training dock's latest run (what Use weights takes); a run is
    ``used`` once its weights became the current model or were saved."""

    def __init__(
        self,
        models: ModelController,
        training: TrainingController,
        ask: Callable[[str], Answer],
        ask_run: Callable[[str, str], Answer],
        save_model: Callable[[], bool],
        save_run: Callable[[TrainingRun], bool],
    ):
        self.models, self.training = models, training
        self.ask, self.ask_run = ask, ask_run
        self.save_model, self.save_run = save_model, save_run
        self.dock_run: TrainingRun | None = None
        self.run_discarded = False  # Quit was told to discard the running training: its recovery goes too

    def confirm(self, doing: str) -> bool:
        """Before weights that are not in a file would be replaced: Save / Discard / Cancel. True to go on."""
        if self.models.dirty and self.models.checkpoint is not None:
            answer = self.ask(doing)
            if answer == "cancel" or (answer == "save" and not self.save_model()):
                return False
        return self._confirm_beside(doing)

    def _confirm_beside(self, doing: str) -> bool:
        """Compare depths' second depth, in no file: Save / Discard / Cancel before the comparison closes."""
        run = self.training.beside
        if run is None or run.used or run.final_path is None:
            return True
        what = (
            f"Compare depths' second model ({run.spec.describe()}, best loss {format_loss(run.best_loss)}) is "
            "shown beside the current one and is in no file."
        )
        answer = self.ask_run(what, doing)
        if answer == "save":
            return self.save_run(run)
        if answer == "discard":
            run.used = True  # let go: not asked about again
        return answer == "discard"

    def unused_run(self) -> TrainingRun | None:
        """A finished run whose weights were never used nor saved — the dock's latest, else the latest run
        of all (a Points-tab run whose weights never became the current model) — or None."""
        for run in (self.dock_run, self.training.run):
            if run is None or run.used or run.final_path is None:
                continue
            if self.training.is_busy() and self.training.run is run:
                continue
            return run
        return None

    def running(self) -> TrainingRun | None:
        """The run that trains now (the Training dock's or the Points tab's), or None."""
        run = self.training.run
        return run if run is not None and self.training.is_busy() else None

    def confirm_quit(self) -> bool:
        """Before the app closes: the current weights, then a dock training that runs (stopped, and its best
        weights saved, when asked) or one that finished unused. True to quit."""
        if not self.confirm("quit"):
            return False
        run = self.running()
        if run is not None:
            what = (
                f"A training is running (step {run.step:,} of {run.config.steps:,}, best loss "
                f"{format_loss(run.best_loss)}). Quitting stops it."
            )
            answer = self.ask_run(what, "quit")
            if answer == "cancel":
                return False
            if answer == "save":
                ended = self.training.finish_now()  # stop after this step; the worker saves its best weights
                return ended is not None and ended.final_path is not None and self.save_run(ended)
            self.run_discarded = True  # no restore of it is offered at the next start
            return True
        run = self.unused_run()
        if run is not None:
            what = (
                f"The training that finished ({count(run.step, 'step')}, best loss {format_loss(run.best_loss)}) left "
                "weights that were never used nor saved."
            )
            answer = self.ask_run(what, "quit")
            if answer == "save":
                return self.save_run(run)
            return answer == "discard"
        return True
