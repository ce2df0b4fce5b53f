"""Chains: the step x ← f(x) + ε·n (chain), how it steps (sampler), its seeds (seeds), where it starts (start,
and start_preview without torch for the first frame), what the lab adds — conditions, edits, branches (lab),
every step reached for scrubbing (timeline, keyframes on disk), the live per-step curves (curves) and one
model's chains with all of that together (session)."""
