//! OCI runtime spec builder (pure).
