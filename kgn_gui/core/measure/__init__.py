"""Measures: what came out of a kaleidoscope (numpy + torch; no Qt). How chains move (dynamics), what the
samples are against real data (distribution), one chain run measured (analysis), what each number means
(registry), the feature space of a data set (features, over the classifier networks of classifier).

Distances are RMS per value, ‖·‖/√D, in the model's value units (as in :mod:`kgn_gui.core.chain.curves`). For a chain
x_0, x_1, … the noise-free residual is r_t = ‖clamp(f(x_t)) − x_t‖/√D: how far x_t is from being a fixed
point of f, whatever noise the chain adds.

Convergence (one test for every noise kind)
    tol            ``converge_tolerance`` = 0.025 × the value range's span (0.05 on [−1, 1]), the same for
                   ``none``, ``normal``, ``uniform`` and the published code's noise
    converged      fraction of chains whose residual at the last step is below tol
    burn-in        the settling step: the first t after which the median residual over chains stays below
                   tol (None if it ends above). A settling time, not stationarity (see Stationarity)
    cycles         fraction of chains that are not converged but whose noise-free continuation from x_T
                   returns within tol of x_T after k = 2 … 8 steps (periods: the least such k; 1 = converged)
    contraction    q_t = r_t / r_{t−1}, median over chains (< 1: the chain contracts)
Memorization and coverage
    nearest        each chain's nearest training example j and distance d; ``nearest_mean`` = mean d
    copy fraction  fraction of chains with d < ``copy_tol``
    distinct       number of distinct training examples that are some chain's nearest
    occupancy      how many chains fell into each of those (sorted counts)
    memorized     d₁/d₂ < 1/3: the nearest training example much nearer than the second nearest (Gu et al.
                   2023); ``memorized_fraction`` with its Wilson 95 % interval and real unseen samples' value
                   (``_real``, leave-one-out without a held-out split). Not memorized: ``spurious`` when
                   farther from the training data than 95 % of real unseen samples lie, else ``novel``
Distribution measures, in the feature space of the model's own data set (:mod:`features`: the bundled
MNIST classifier, a classifier trained on demand on another labelled set, or a PCA of an unlabelled one)
    class entropy  H(argmax labels) / log C (1 = every class equally often); confidence = mean top probability
    Fréchet        ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^{1/2}) between Gaussians fitted to the features of the
                   samples and of the reference set — FID-style, NOT comparable with Inception FID
    KID            unbiased MMD² with the cubic polynomial kernel k(a, b) = (a·b/F + 1)³ (Bińkowski et al.
                   2018): unbiased at any n, unlike the Fréchet distance
    precision      share of samples inside the reference's k-NN manifold (the union of balls around each
                   reference point reaching its k-th nearest reference neighbour, k = 3; Kynkäänniemi et al.
                   2019); recall: share of reference points inside the samples' manifold
    The reference set is the real pool (held-out data where the data set has it) less n real samples that
    are measured the same way as a **baseline** (``m_real``): what real, unseen data score at this n.
    Intervals ``m_ci``: bootstrap 95 % intervals over 200 resamples of the samples (the reference fixed):
    the 2.5 and 97.5 percentiles of the resampled values, shifted so that their median sits on the
    estimate (resampling with repeats biases the Fréchet distance and KID). Recall's interval comes from
    200 half-samples drawn without repeats instead (the delete-n/2 jackknife, recentred the same way): a
    resample with repeats sets its balls' radii from ~63 % of the samples and understated recall's spread.
Stationarity (:mod:`mixing`)
    the integrated autocorrelation time τ of each chain's coordinates on the training data's top 3
    principal components after the settling step (Sokal's window), and ESS = n/τ: ``autocorrelation_time_
    median``, ``ess_median``; ``over_t`` (``kgn analyze --over-t``): the distribution measures at earlier
    steps, to see whether the distribution still changes
Baselines (:mod:`baselines`, ``kgn analyze --baselines``)
    retrieval (training examples + one step of the sampler's noise), a PCA-Gaussian and a diagonal GMM,
    each n samples measured by the same Reference as the chains, and their memorized fraction
Mixing
    after burn-in, how often each chain's nearest class (``mixing_class``) and nearest training example
    (``mixing_nearest``) change, per 100 steps, looked at every ``stride`` steps
Attractors
    refine a training example to a fixed point x* (iterate f without noise), keep those whose residual is
    below ``FIXED_TOL``, then the spectral radius ρ of the Jacobian J_f(x*) there: exact eigenvalues
    (torch.func.jacrev) for D ≤ 1024, else Arnoldi with Jacobian-vector products. The attractor fraction
    counts ρ < 1 over those fixed points only (ρ where f has no fixed point means nothing). Iterating f
    can only land on attracting points, so this is ≈ 1 by construction; the census below is the test.
Fixed-point census (:mod:`fixed_points`)
    roots of f(x) − x by Newton with Levenberg–Marquardt fallback ("newton-lm", exact Jacobians, float64)
    from training examples and chain ends; each distinct root classified by J_f's eigenvalues: attracting
    (all |λ| < 1), repelling (all |λ| > 1), saddle. At the training examples themselves: ρ(J_f), the
    residual ‖f(x) − x‖/√D and the drift to the root their run reached (``training_*``).
Basin recovery
    corrupt training examples by N(0, σ²) per value (clamped), iterate T steps without noise; recovered =
    the end state lies within tol of the clean example's own noise-free end state after T steps (σ = 0
    recovers by construction). Its chance level (``recovery_chance_σ``): the share of (example, other
    example) pairs where the corrupted example ends within tol of the *other's* clean end — 1 for a map
    that sends everything to one point, so recovery means something only above it;
    ``recovery_distinct_ends``: the distinct clean end points. The noise has one stream per (seed, σ).
Over-generalization
    outputs f(z) for z uniform over the whole input box: the fraction of output values inside the training
    data's per-value [min, max] and the fraction saturated at the bounds (within 1e-3 of the span), each
    beside the identity map's value for the same inputs (its baseline: on MNIST the identity already
    scores ~0.86 inside the range).
"""
