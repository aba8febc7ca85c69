//! Integration tests: render_data (Redis ACL/TLS, Compose isolation, backend JWT module),
//! against real redis-server, docker-compose and Python (FastAPI + PyJWT).

mod backend;
mod compose;
mod redis;
pub(crate) mod support;
