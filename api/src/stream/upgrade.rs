//! HTTP hijack for attach/exec.
