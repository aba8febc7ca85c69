//! Integration tests: keycloak.
