//! Rendering every config (nginx, ModSecurity/CRS, Redis, Compose, backend module) from Tera templates.
