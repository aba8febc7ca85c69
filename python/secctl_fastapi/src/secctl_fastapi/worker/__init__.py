"""secctl's background worker: its tasks live in ``secctl_fastapi.worker.tasks``."""
