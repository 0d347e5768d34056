"""Cases: one door for every request (intake, routing, handling, SLA, Open311, the public feed)."""

SEED = 7  # the classifier's fixed split and model seed: same data and seed, same weights
