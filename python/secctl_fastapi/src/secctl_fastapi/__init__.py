"""secctl's security kit for FastAPI services.

The logic lives here, tested once; `secctl render` emits only data (a versioned settings file per
service) that this package validates at startup.
"""

__version__ = "0.1.0"
