//! containerd containers service calls.
