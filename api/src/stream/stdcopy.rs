//! stdcopy framing.
