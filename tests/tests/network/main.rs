//! Container networking on one node (issue 7): the default bridge and the `host`, `none` and
//! `container:` modes; published ports (loopback, another namespace, another network); user
//! networks with embedded DNS; `/etc/hosts` and resolv.conf; restarts; docker-compose; and no
//! leftovers. Every daemon has its own bridge, subnets and iptables chains
//! (`shoal_tests::netslot`), so these run in parallel with everything else.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

mod t10_modes;
mod t20_ports;
mod t30_user_networks;
mod t35_ipv6;
mod t40_dns_hosts;
mod t50_restart;
mod t60_compose;
mod t90_leftovers;
