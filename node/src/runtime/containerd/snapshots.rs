//! containerd snapshots service calls.
