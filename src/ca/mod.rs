//! The private service CA: root, name-constrained intermediate, leaves, CRL and inventory.
