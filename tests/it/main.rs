//! Integration tests. Each module owns one area; tests that need real servers
//! (nginx, Redis, Keycloak, pkilint, sslyze) start them on 127.0.0.1 with free
//! ports and fail — never skip — when a tool is missing: `.ci/run` installs them.

mod ca;
mod cli;
mod hostile;
mod keycloak;
mod policy;
mod render_data;
mod render_gw;
mod robust;
mod verify;
