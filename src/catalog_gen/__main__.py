"""`python -m catalog_gen` runs the same CLI as the `catalog-gen` console script."""

from catalog_gen.cli import main_entry

main_entry()
