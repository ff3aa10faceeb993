//! Listeners: unix sockets (mode 0660) and TCP, with graceful shutdown.
