"""The model lock: catalog/models.lock.yaml (digests and sizes of every model), read by the plan,
written by the `lock` command from the registries."""
