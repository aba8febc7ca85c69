//! Keycloak provisioning: read actual state, plan a typed diff, apply it.
