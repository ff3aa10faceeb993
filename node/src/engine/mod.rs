//! The local Docker engine: containers over containerd.
