//! containerd diff service calls.
