//! containerd content service calls.
