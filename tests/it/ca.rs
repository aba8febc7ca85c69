//! Integration tests: ca.
