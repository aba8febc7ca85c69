"""Worker tasks, each runnable as ``python -m secctl_fastapi.worker.tasks.<name>``."""
