//! CA rotation (see docs/ca.md).
