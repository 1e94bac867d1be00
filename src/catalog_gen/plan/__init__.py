"""Stage 3, plan: a checked leaf, its environment, the chart's defaults and the model lock merged,
in a documented order, into one ServicePlan per service (the values, hosts and sizing)."""
