//! containerd leases service calls.
