#
"""Moved: the request-security logic is now the `secctl_fastapi` package (python/secctl_fastapi),
configured by the settings file `secctl render` writes to kit/<service>.json. See docs/fastapi.md.

This module keeps the old import path working. It carries no policy data and enforces nothing by
itself: install the kit on the app, and `authorize` returns the principal the kit verified (or
fails closed with 500 when the kit is not installed, never serving the request unauthenticated).

    from secctl_fastapi import SecurityKit
    kit = SecurityKit.from_file("kit/backend.json", "backend", redis=r, audit=AuditEmitter(r, "backend"))
    kit.install(app)

    from secctl_security import Principal, authorize
    @app.get("/api/items")
    def items(who: Principal = Depends(authorize)): ...
"""

from secctl_fastapi import Principal, SecurityKit, current_principal as authorize, current_tenant

__all__ = ["Principal", "SecurityKit", "authorize", "current_tenant"]
