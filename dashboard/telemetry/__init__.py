"""The service's own Prometheus numbers: the instruments every process writes, and their
exposition (docs/OPERATIONS.md, "Health and metrics"). Imports nothing else of `dashboard`."""
