//! Start order and reverse shutdown order of the daemon's parts.
