//! FIFOs between containerd shims and the engine.
