//! containerd tasks service calls.
