//! containerd images service calls.
