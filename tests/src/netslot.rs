//! Per-daemon network names, so that test daemons running in parallel in the host's network
//! namespace never share a bridge, a subnet or an iptables chain.
//!
//! A [`NetSlot`] is a number `n` in 0..256 claimed with a lock file under `/tmp/shoal-netslots/`
//! (holding the claiming process's pid; a slot whose process is dead is cleaned and reused). Slot
//! `n` owns the bridge `sht<n>`, the chains `SHT<n>-*`, the default-bridge subnet `10.224.<n>.0/24`
//! and the address pool `10.<208 + n/16>.<16 * (n % 16)>.0/20` (cut into /24s) for user networks;
//! tests that need an explicit `--subnet` take one from the upper half of that pool
//! ([`NetSlot::subnet`]). Dropping the slot removes every bridge with an address in its ranges and
//! its chains, then frees the number.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

const DIR: &str = "/tmp/shoal-netslots";
const SLOTS: u16 = 256;

/// One claimed slot.
#[derive(Debug)]
pub struct NetSlot {
    n: u16,
    lock: PathBuf,
}

fn run(args: &[&str]) -> String {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

impl NetSlot {
    /// Claims a free slot (cleaning up after a dead owner if needed).
    pub fn acquire() -> NetSlot {
        std::fs::create_dir_all(DIR).expect("create netslot dir");
        let me = std::process::id();
        // One claimer at a time on the host, so a reclaim never races a new owner.
        let guard = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(format!("{DIR}/.lock"))
            .expect("open netslot lock");
        let _held = nix::fcntl::Flock::lock(guard, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .expect("lock netslots");
        Self::sweep_stale();
        // Start at a pid-dependent place so parallel binaries rarely race for the same file.
        let start = (me % u32::from(SLOTS)) as u16;
        for i in 0..SLOTS {
            let n = (start + i) % SLOTS;
            let lock = PathBuf::from(format!("{DIR}/{n}"));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(_) => {
                    std::fs::write(&lock, me.to_string()).expect("write netslot lock");
                    let s = NetSlot { n, lock };
                    // A crashed earlier owner may have left objects behind.
                    s.clean();
                    return s;
                }
                Err(_) => {
                    let owner: Option<u32> = std::fs::read_to_string(&lock)
                        .ok()
                        .and_then(|s| s.trim().parse().ok());
                    // An empty file is a claim being written right now.
                    if let Some(pid) = owner
                        && !crate::procs::alive(pid)
                        && std::fs::remove_file(&lock).is_ok()
                    {
                        NetSlot {
                            n,
                            lock: lock.clone(),
                        }
                        .clean();
                    }
                }
            }
        }
        panic!("no free network slot under {DIR}");
    }

    /// Cleans and frees every slot whose owner process is gone (a test binary that aborted).
    fn sweep_stale() {
        let Ok(entries) = std::fs::read_dir(DIR) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(n) = e.file_name().to_string_lossy().parse::<u16>() else {
                continue;
            };
            let owner: Option<u32> = std::fs::read_to_string(e.path())
                .ok()
                .and_then(|s| s.trim().parse().ok());
            if let Some(pid) = owner
                && !crate::procs::alive(pid)
            {
                Self::reclaim(n, e.path());
            }
        }
    }

    /// Cleans a dead owner's objects, then frees its number (in that order, so a new owner
    /// never loses what it made).
    fn reclaim(n: u16, lock: PathBuf) {
        let s = NetSlot { n, lock };
        s.clean();
        let _ = std::fs::remove_file(&s.lock);
        std::mem::forget(s);
    }

    /// The slot number.
    pub fn n(&self) -> u16 {
        self.n
    }

    /// The default bridge's device.
    pub fn bridge(&self) -> String {
        format!("sht{}", self.n)
    }

    /// The iptables chain prefix.
    pub fn chain_prefix(&self) -> String {
        format!("SHT{}", self.n)
    }

    /// The default bridge's gateway.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 224, self.n as u8, 1)
    }

    /// `--bip`.
    pub fn bip(&self) -> String {
        format!("{}/24", self.gateway())
    }

    fn pool_base(&self) -> (u8, u8) {
        (208 + (self.n / 16) as u8, (self.n % 16) as u8 * 16)
    }

    /// The pool for user networks (dockerd's `--default-address-pool` syntax).
    pub fn pool(&self) -> String {
        let (b, c) = self.pool_base();
        format!("base=10.{b}.{c}.0/20,size=24")
    }

    /// The i-th (0..8) explicit test subnet, e.g. for `--subnet`: `10.x.y.0/24`.
    pub fn subnet(&self, i: u8) -> String {
        assert!(i < 8, "8 explicit subnets per slot");
        let (b, c) = self.pool_base();
        format!("10.{b}.{}.0/24", c + 8 + i)
    }

    /// The i-th (0..8) explicit IPv6 test subnet, e.g. for `--subnet` with `--ipv6`: a ULA
    /// /64 only this slot uses, written as dockerd and Shoal print it (`fd5e:a1:N:I+1::/64`).
    pub fn subnet6(&self, i: u8) -> String {
        assert!(i < 8, "8 explicit subnets per slot");
        format!("fd5e:a1:{:x}:{}::/64", self.n, i + 1)
    }

    /// daemon.json keys for Shoal.
    pub fn shoal_config(&self) -> serde_json::Value {
        let (b, c) = self.pool_base();
        serde_json::json!({
            "bridge": self.bridge(),
            "bip": self.bip(),
            "default-address-pools": [{"base": format!("10.{b}.{c}.0/20"), "size": 24}],
            "iptables-chain-prefix": self.chain_prefix(),
        })
    }

    fn owns(&self, ip: Ipv4Addr) -> bool {
        let o = ip.octets();
        let (b, c) = self.pool_base();
        (o[0] == 10 && o[1] == 224 && o[2] == self.n as u8)
            // u16: the last block of a /16 starts at 240, and 240 + 16 is no u8.
            || (o[0] == 10 && o[1] == b && o[2] >= c && u16::from(o[2]) < u16::from(c) + 16)
    }

    /// Links with an address in this slot's ranges (bridges of the daemon's networks).
    pub fn links(&self) -> Vec<String> {
        let mut out = Vec::new();
        for line in run(&["ip", "-o", "-4", "addr", "show"]).lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(dev), Some(addr)) = (f.get(1), f.get(3)) else {
                continue;
            };
            let ip = addr
                .split('/')
                .next()
                .and_then(|a| a.parse::<Ipv4Addr>().ok());
            if ip.is_some_and(|ip| self.owns(ip)) && !out.contains(&dev.to_string()) {
                out.push(dev.to_string());
            }
        }
        out
    }

    /// This slot's rules (`iptables -S` lines of every table mentioning its chains).
    pub fn rules(&self) -> Vec<String> {
        self.rules_of("iptables")
    }

    /// This slot's IPv6 rules (`ip6tables -S`, likewise).
    pub fn rules6(&self) -> Vec<String> {
        self.rules_of("ip6tables")
    }

    fn rules_of(&self, bin: &str) -> Vec<String> {
        let p = format!("{}-", self.chain_prefix());
        let mut out = Vec::new();
        for t in ["nat", "filter"] {
            for l in run(&[bin, "-w", "-t", t, "-S"]).lines() {
                if l.contains(&p) {
                    out.push(format!("{t}: {l}"));
                }
            }
        }
        out
    }

    /// Removes every link, rule and chain of this slot.
    pub fn clean(&self) {
        let mut devs = self.links();
        devs.push(self.bridge());
        for dev in &devs {
            let _ = Command::new("ip").args(["link", "del", dev]).output();
        }
        // dockerd leaves its rules for our bridges and subnets in its global chains.
        let (b, c) = self.pool_base();
        let nets: Vec<String> = std::iter::once(format!("10.224.{}.0/24", self.n))
            .chain((0..16).map(|i| format!("10.{b}.{}.0/24", c + i)))
            .collect();
        for t in ["nat", "filter"] {
            for l in run(&["iptables", "-w", "-t", t, "-S"]).lines() {
                let words: Vec<&str> = l.split_whitespace().collect();
                let ours = words.windows(2).any(|w| {
                    (matches!(w[0], "-i" | "-o") && devs.iter().any(|d| d == w[1]))
                        || (matches!(w[0], "-s" | "-d") && nets.iter().any(|n| n == w[1]))
                });
                // Our own chains go whole below.
                let own = l.starts_with(&format!("-A {}-", self.chain_prefix()));
                if l.starts_with("-A ") && ours && !own {
                    let mut args: Vec<&str> = vec!["-w", "-t", t, "-D"];
                    args.extend(l[3..].split_whitespace());
                    let _ = Command::new("iptables").args(&args).output();
                }
            }
        }
        let p = format!("{}-", self.chain_prefix());
        for (bin, t) in [
            ("iptables", "nat"),
            ("iptables", "filter"),
            ("ip6tables", "nat"),
            ("ip6tables", "filter"),
        ] {
            let rules = run(&[bin, "-w", "-t", t, "-S"]);
            // Jumps from built-in chains first, then the chains themselves.
            for l in rules
                .lines()
                .filter(|l| l.starts_with("-A ") && l.contains(&format!("-j {p}")))
            {
                let mut args: Vec<&str> = vec!["-w", "-t", t, "-D"];
                args.extend(l[3..].split_whitespace());
                let _ = Command::new(bin).args(&args).output();
            }
            for l in rules
                .lines()
                .filter(|l| l.starts_with("-N ") && l[3..].starts_with(&p))
            {
                let chain = l[3..].trim();
                let _ = Command::new(bin)
                    .args(["-w", "-t", t, "-F", chain])
                    .output();
                let _ = Command::new(bin)
                    .args(["-w", "-t", t, "-X", chain])
                    .output();
            }
        }
    }
}

impl Drop for NetSlot {
    fn drop(&mut self) {
        self.clean();
        let _ = std::fs::remove_file(&self.lock);
    }
}
