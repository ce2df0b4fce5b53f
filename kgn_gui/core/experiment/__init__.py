"""Experiments of many trainings: the depth sweep (sweep: one model per depth and seed, trained, sampled and
measured; sweep.csv the mean and t-interval over seeds), its chart (sweep_plot) and the sweep in a child
process for the window (sweep_worker)."""
