"""The reference stack's services (backend, AI service, worker), protected by secctl_fastapi."""
