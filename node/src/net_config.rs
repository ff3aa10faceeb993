//! dockerd's networking flags and daemon.json keys (`bridge`, `bip`,
//! `fixed-cidr`, `ipv6`, `fixed-cidr-v6`, `default-address-pools`, `mtu`) plus Shoal's own
//! `iptables-chain-prefix`, which keeps two daemons on one host from
//! sharing a rule chain.

use clap::Args;
use ipnet::{Ipv4Net, Ipv6Net};
use serde_json::Value;

use crate::config::ConfigError;
use crate::network::ipam::{self, AddressPool};

/// The daemon.json keys handled here.
pub const NET_KEYS: &[&str] = &[
    "bridge",
    "bip",
    "fixed-cidr",
    "ipv6",
    "fixed-cidr-v6",
    "default-address-pools",
    "mtu",
    "iptables-chain-prefix",
];

/// Networking flags of `shoal daemon`.
#[derive(Debug, Args, Default, Clone)]
pub struct NetFlags {
    /// Device of the default bridge network (`none` disables it).
    #[arg(short = 'b', long = "bridge")]
    pub bridge: Option<String>,
    /// Address and prefix of the default bridge, e.g. 172.17.0.1/16.
    #[arg(long)]
    pub bip: Option<String>,
    /// Range of the default bridge's subnet containers get addresses from.
    #[arg(long)]
    pub fixed_cidr: Option<String>,
    /// IPv6 on the default bridge too (dual stack).
    #[arg(long)]
    pub ipv6: bool,
    /// The default bridge's IPv6 subnet (default: a /64 of the daemon's ULA pool).
    #[arg(long)]
    pub fixed_cidr_v6: Option<String>,
    /// Pools for new networks: base=10.10.0.0/16,size=24 (repeatable).
    #[arg(long = "default-address-pool")]
    pub default_address_pools: Vec<String>,
    /// MTU of bridges and container interfaces.
    #[arg(long)]
    pub mtu: Option<u32>,
    /// Prefix of this daemon's iptables chains (default SHOAL).
    #[arg(long)]
    pub iptables_chain_prefix: Option<String>,
}

/// The effective networking settings.
#[derive(Debug, Clone, PartialEq)]
pub struct NetSettings {
    /// Default bridge device.
    pub bridge: String,
    /// `--bip`.
    pub bip: Option<Ipv4Net>,
    /// `--fixed-cidr`.
    pub fixed_cidr: Option<Ipv4Net>,
    /// `--ipv6`.
    pub ipv6: bool,
    /// `--fixed-cidr-v6`.
    pub fixed_cidr_v6: Option<Ipv6Net>,
    /// Address pools.
    pub pools: Vec<AddressPool>,
    /// MTU (0: kernel default).
    pub mtu: u32,
    /// Chain prefix.
    pub chain_prefix: String,
}

/// Flags that were set, by daemon.json key (for the both-set conflict check).
pub fn set_keys(f: &NetFlags) -> Vec<(&'static str, bool)> {
    vec![
        ("bridge", f.bridge.is_some()),
        ("bip", f.bip.is_some()),
        ("fixed-cidr", f.fixed_cidr.is_some()),
        ("ipv6", f.ipv6),
        ("fixed-cidr-v6", f.fixed_cidr_v6.is_some()),
        ("default-address-pools", !f.default_address_pools.is_empty()),
        ("mtu", f.mtu.is_some()),
        ("iptables-chain-prefix", f.iptables_chain_prefix.is_some()),
    ]
}

fn invalid(m: String) -> ConfigError {
    ConfigError::Invalid(m)
}

fn string(file: &serde_json::Map<String, Value>, key: &str) -> Result<Option<String>, ConfigError> {
    match file.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{key}: expected a string"))),
    }
}

/// Merges flags and file (conflicts were checked by the caller).
pub fn merge(
    f: &NetFlags,
    file: &serde_json::Map<String, Value>,
) -> Result<NetSettings, ConfigError> {
    let bridge = f
        .bridge
        .clone()
        .or(string(file, "bridge")?)
        .unwrap_or_else(|| "shoal0".into());
    if bridge.is_empty() || bridge.len() > 15 || bridge.contains(['/', ' ']) {
        return Err(invalid(format!("invalid bridge name: {bridge:?}")));
    }
    let bip = match f.bip.clone().or(string(file, "bip")?) {
        Some(s) => Some(s.parse::<Ipv4Net>().map_err(|_| {
            invalid(format!(
                "invalid bip {s}: expected an IPv4 CIDR such as 172.17.0.1/16"
            ))
        })?),
        None => None,
    };
    let fixed_cidr = match f.fixed_cidr.clone().or(string(file, "fixed-cidr")?) {
        Some(s) => Some(
            s.parse::<Ipv4Net>()
                .map_err(|_| invalid(format!("invalid fixed-cidr {s}")))?
                .trunc(),
        ),
        None => None,
    };
    if let (Some(b), Some(fc)) = (bip, fixed_cidr)
        && !(b.trunc().contains(&fc.network()) && b.trunc().contains(&fc.broadcast()))
    {
        return Err(invalid(format!("fixed-cidr {fc} is not within bip {b}")));
    }
    let ipv6 = match (f.ipv6, file.get("ipv6")) {
        (true, _) => true,
        (false, None) => false,
        (false, Some(Value::Bool(b))) => *b,
        (false, Some(_)) => return Err(invalid("ipv6: expected a boolean".into())),
    };
    let fixed_cidr_v6 = match f.fixed_cidr_v6.clone().or(string(file, "fixed-cidr-v6")?) {
        Some(s) => {
            let n = s
                .parse::<Ipv6Net>()
                .map_err(|_| invalid(format!("invalid fixed-cidr-v6 {s}")))?;
            if n.prefix_len() > 124 {
                return Err(invalid(format!(
                    "invalid fixed-cidr-v6 {s}: prefix too long"
                )));
            }
            Some(n.trunc())
        }
        None => None,
    };
    if fixed_cidr_v6.is_some() && !ipv6 {
        // dockerd ignores it then; Shoal says so instead.
        return Err(invalid(
            "fixed-cidr-v6 is set but IPv6 is not enabled on the default bridge (--ipv6)".into(),
        ));
    }
    let pools = if !f.default_address_pools.is_empty() {
        f.default_address_pools
            .iter()
            .map(|p| ipam::parse_pool(p).map_err(invalid))
            .collect::<Result<Vec<_>, _>>()?
    } else if let Some(v) = file.get("default-address-pools") {
        let arr = v
            .as_array()
            .ok_or_else(|| invalid("default-address-pools: expected a list".into()))?;
        let mut out = Vec::new();
        for p in arr {
            let base = p.get("base").and_then(Value::as_str);
            let size = p.get("size").and_then(Value::as_u64);
            match (base, size) {
                (Some(b), Some(s)) => {
                    out.push(ipam::parse_pool(&format!("base={b},size={s}")).map_err(invalid)?)
                }
                _ => {
                    return Err(invalid(
                        "default-address-pools: each entry needs base and size".into(),
                    ));
                }
            }
        }
        out
    } else {
        ipam::default_pools()
    };
    let mtu = match (f.mtu, file.get("mtu")) {
        (Some(m), _) => m,
        (None, Some(v)) => v
            .as_u64()
            .and_then(|m| u32::try_from(m).ok())
            .ok_or_else(|| invalid("mtu: expected a number".into()))?,
        (None, None) => 0,
    };
    if mtu != 0 && !(68..=65535).contains(&mtu) {
        return Err(invalid(format!("invalid MTU {mtu}")));
    }
    let chain_prefix = f
        .iptables_chain_prefix
        .clone()
        .or(string(file, "iptables-chain-prefix")?)
        .unwrap_or_else(|| "SHOAL".into());
    // iptables chain names are at most 28 characters; "-DNAT" is added.
    if chain_prefix.is_empty()
        || chain_prefix.len() > 23
        || !chain_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(format!(
            "invalid iptables-chain-prefix {chain_prefix:?}: 1 to 23 letters, digits, - or _"
        )));
    }
    Ok(NetSettings {
        bridge,
        bip,
        fixed_cidr,
        ipv6,
        fixed_cidr_v6,
        pools,
        mtu,
        chain_prefix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_dockerd_like() {
        let n = merge(&NetFlags::default(), &serde_json::Map::new()).unwrap();
        assert_eq!(n.bridge, "shoal0");
        assert_eq!(n.chain_prefix, "SHOAL");
        assert_eq!(n.pools, ipam::default_pools());
    }

    #[test]
    fn file_keys_apply_and_are_checked() {
        let file: serde_json::Map<String, Value> = serde_json::from_str(
            r#"{"bridge":"tb1","bip":"10.99.0.1/24","fixed-cidr":"10.99.0.128/25","default-address-pools":[{"base":"10.98.0.0/16","size":24}],"iptables-chain-prefix":"ST-1"}"#,
        )
        .unwrap();
        let n = merge(&NetFlags::default(), &file).unwrap();
        assert_eq!(n.bip.unwrap().to_string(), "10.99.0.1/24");
        assert_eq!(n.pools[0].size, 24);
        let bad: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"bip":"10.99.0.1/24","fixed-cidr":"10.1.0.0/24"}"#).unwrap();
        assert!(merge(&NetFlags::default(), &bad).is_err());
    }
}
