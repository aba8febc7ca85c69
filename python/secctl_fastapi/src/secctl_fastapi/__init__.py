"""secctl's security kit for FastAPI services.

The logic lives here, tested once; `secctl render` emits only data (a versioned settings file per
service, ``kit/<service>.json``) that this package validates at startup. See docs/fastapi.md.

    kit = SecurityKit.from_file("generated/kit/backend.json", "backend", redis=r, audit=AuditEmitter(r, "backend"))
    kit.install(app)              # JWT, RBAC, tenancy, rate limits, mTLS callers, audit; CORS outermost

    @app.get("/api/tenants/{tenant}/items")
    async def items(p: Principal = Depends(current_principal)): ...
"""

from .context import Principal, current_principal, current_tenant, principal_var, tenant_var
from .kit import SecurityKit
from .settings import SETTINGS_VERSION, KitSettings, SettingsError, load_settings

__version__ = "0.1.0"

__all__ = [
    "SETTINGS_VERSION",
    "KitSettings",
    "Principal",
    "SecurityKit",
    "SettingsError",
    "current_principal",
    "current_tenant",
    "load_settings",
    "principal_var",
    "tenant_var",
]
