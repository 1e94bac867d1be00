"""Stage 2, check: every rule a leaf, an environment or the chart's values must satisfy, each
failure a located Problem; the chart's own rules are evaluated with the chart's own artifacts."""
