"""`catalog-gen diff --base REF`: the Kubernetes manifests a change makes, service by service.

`source.py` reads the catalog, the chart and the generated values files at REF from git (nothing
written in the repository), `render.py` gives each service its helm inputs and renders the chart
with the pinned helm, `compare.py` finds the services whose inputs changed and diffs their
manifests resource by resource, `report.py` prints that as text or as a pull-request comment,
`command.py` runs it.
"""
