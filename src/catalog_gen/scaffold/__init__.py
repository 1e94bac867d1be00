"""Leaves written for the user: `catalog-gen new` and `promote`, checked in full first."""
