//! Linearizability of the replicated store under faults (Jepsen-style, in process).
//!
//! Each schedule starts 3 or 5 members on the real mutual-TLS transport, runs concurrent
//! clients doing reads (`read_linearizable`), creates, compare-and-set updates (an update
//! carrying the version it read) and deletes on a few objects through random members,
//! while a seeded fault schedule kills and restarts members (the leader half the time),
//! partitions minorities and majorities, drops and delays messages and replies, and changes
//! membership (a voter demoted to learner and back). Then everything heals, a final read of
//! every object joins the history, and each object's history is checked for
//! linearizability (see `checker`): an acknowledged write that got lost, a stale read, or
//! two winning compare-and-sets from one version all fail the check.
//!
//! Short seeded run (the normal test suite): 2 schedules of 3 s. Long run:
//! `SHOAL_CHAOS_SCHEDULES=1000 SHOAL_CHAOS_SECS=3 cargo test -p shoal-raft --release --test chaos -- --nocapture`
//! (`SHOAL_CHAOS_SEED` picks the first seed; a failure prints its seed to rerun alone).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod checker;
#[path = "../common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checker::{Kind, Op, linearizable};
use common::{Pki, service};
use shoal_raft::network::LinkFault;
use shoal_raft::{ClusterStore, RaftId, RaftNode, StoreError, TlsConfig};
use shoal_scheduler::model::*;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const KEYS: u64 = 3;
const CLIENTS: u64 = 4;
const OP_TIMEOUT: Duration = Duration::from_secs(3);

/// splitmix64: a small seeded generator, so a schedule replays from its seed.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Running {
    store: ClusterStore,
    stop: oneshot::Sender<()>,
    server: JoinHandle<()>,
}

struct Slot {
    id: RaftId,
    addr: String,
    dir: PathBuf,
    tls: TlsConfig,
    run: Option<Running>,
}

fn config(slot: &Slot, tick: Duration) -> shoal_raft::StoreConfig {
    let mut c = common::config(slot.id, &slot.addr, &slot.dir);
    c.tick = tick;
    c.propose_timeout = Duration::from_secs(2);
    c
}

async fn launch(slot: &mut Slot, tick: Duration) {
    let deadline = Instant::now() + Duration::from_secs(20);
    // The port and the sled lock of a stopped member can take a moment to be released
    // (clients may still hold its last handle for one operation).
    let (listener, store) = loop {
        let attempt = async {
            let l = TcpListener::bind(&slot.addr)
                .await
                .map_err(|e| e.to_string())?;
            let s = ClusterStore::open(config(slot, tick), &slot.tls)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((l, s))
        };
        match attempt.await {
            Ok(v) => break v,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "member {} cannot restart: {e}",
                    slot.id
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let (tx, rx) = oneshot::channel::<()>();
    let (tls, s2) = (slot.tls.clone(), store.clone());
    let server = tokio::spawn(async move {
        let _ = shoal_raft::network::serve(listener, &tls, s2, async {
            let _ = rx.await;
        })
        .await;
    });
    slot.run = Some(Running {
        store,
        stop: tx,
        server,
    });
}

/// A free loopback port below Linux's ephemeral range (32768-60999): a killed member's port
/// must still be free when it restarts, and a port in the ephemeral range can meanwhile
/// become the local port of some outgoing connection.
async fn free_port() -> String {
    let mut rng = Rng(u64::from(std::process::id())
        ^ u64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos(),
        )
        .unwrap_or(0));
    loop {
        let port = 20_000 + rng.below(12_000);
        let addr = format!("127.0.0.1:{port}");
        if TcpListener::bind(&addr).await.is_ok() {
            return addr;
        }
    }
}

async fn kill(slot: &mut Slot) {
    if let Some(r) = slot.run.take() {
        let _ = r.store.shutdown().await;
        let _ = r.stop.send(());
        r.server.abort();
        let _ = r.server.await;
    }
}

type Stores = Arc<Mutex<Vec<Option<ClusterStore>>>>;

fn publish(slots: &[Slot], stores: &Stores) {
    *stores.lock().unwrap() = slots
        .iter()
        .map(|s| s.run.as_ref().map(|r| r.store.clone()))
        .collect();
}

fn leader_of(slots: &[Slot]) -> Option<usize> {
    slots
        .iter()
        .position(|s| s.run.as_ref().is_some_and(|r| r.store.is_leader()))
}

fn heal_all(slots: &[Slot]) {
    for s in slots {
        if let Some(r) = &s.run {
            r.store.network().heal_all();
        }
    }
}

/// Cuts `side` off from the others, both directions.
fn partition(slots: &[Slot], side: &BTreeSet<usize>) {
    for (i, a) in slots.iter().enumerate() {
        for (j, b) in slots.iter().enumerate() {
            if side.contains(&i) != side.contains(&j)
                && let Some(r) = &a.run
            {
                r.store.network().block(&b.addr);
            }
        }
    }
}

fn key_id(k: u64) -> ServiceId {
    ServiceId::new(format!("k{k}"))
}

fn value_of(s: &Service) -> Option<u64> {
    s.spec.labels.get("v").and_then(|v| v.parse().ok())
}

fn object(k: u64, value: u64) -> Service {
    let mut s = service(key_id(k).as_str(), key_id(k).as_str());
    s.spec.labels.insert("v".into(), value.to_string());
    s
}

/// The outcome as the client knows it: `Some(ok)` when definite, `None` when unknown.
fn outcome(r: &Result<shoal_raft::Applied, StoreError>) -> Option<bool> {
    match r {
        Ok(_) => Some(true),
        Err(StoreError::OutOfSequence(_) | StoreError::NotFound(_) | StoreError::Conflict(_)) => {
            Some(false)
        }
        Err(_) => None,
    }
}

type History = Arc<Mutex<Vec<(u64, Op)>>>;

/// Builds the recorded operation once its outcome is known.
type KindOf = Box<dyn Fn(Option<bool>) -> Kind + Send>;

async fn client(
    me: u64,
    seed: u64,
    stores: Stores,
    history: History,
    epoch: Instant,
    stop_at: Instant,
) -> u64 {
    let mut rng = Rng(seed ^ (me << 48));
    let mut counter = 0u64;
    let mut acked = 0;
    let now = || u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
    while Instant::now() < stop_at {
        let pick = {
            let s = stores.lock().unwrap();
            let up: Vec<_> = s.iter().flatten().cloned().collect();
            if up.is_empty() {
                None
            } else {
                Some(up[rng.below(up.len() as u64) as usize].clone())
            }
        };
        let Some(store) = pick else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let k = rng.below(KEYS);
        counter += 1;
        let value = (me << 32) | counter;
        let record = |call: u64, ret: Option<u64>, kind: Kind| {
            history.lock().unwrap().push((k, Op { call, ret, kind }));
        };
        // Read first: every write below is based on what this read saw, as an API client's
        // inspect-then-update is.
        let call = now();
        let read = tokio::time::timeout(
            OP_TIMEOUT,
            store.read_linearizable(|s| s.services().get(&key_id(k)).cloned()),
        )
        .await;
        let current = match read {
            Ok(Ok(cur)) => {
                record(
                    call,
                    Some(now()),
                    Kind::Read {
                        seen: cur.as_ref().and_then(value_of),
                    },
                );
                cur
            }
            // A failed read has no effect: nothing to record.
            _ => continue,
        };
        let (cmd, kind_of): (ClusterCommand, KindOf) = match (&current, rng.below(10)) {
            (None, _) => (
                ClusterCommand::Create(object(k, value).into()),
                Box::new(move |ok| Kind::Create { value, ok }),
            ),
            (Some(_), 0) => (
                ClusterCommand::Delete(ObjectRef::Service(key_id(k))),
                Box::new(|ok| Kind::Delete { ok }),
            ),
            (Some(cur), _) => {
                let expected = value_of(cur).unwrap_or(0);
                let mut next = object(k, value);
                next.meta.version = cur.meta.version;
                (
                    ClusterCommand::Update(next.into()),
                    Box::new(move |ok| Kind::Cas {
                        expected,
                        value,
                        ok,
                    }),
                )
            }
        };
        let call = now();
        let res = tokio::time::timeout(OP_TIMEOUT, store.propose_or_forward(cmd)).await;
        let ok = match &res {
            Ok(r) => outcome(r),
            Err(_) => None,
        };
        if ok == Some(true) {
            acked += 1;
        }
        record(call, ok.map(|_| now()), kind_of(ok));
        drop(store);
    }
    acked
}

struct Outcome {
    ops: usize,
    acked: u64,
    faults: usize,
}

async fn schedule(seed: u64, n: usize, secs: u64) -> Outcome {
    let mut rng = Rng(seed);
    let tick = Duration::from_millis(30);
    let pki = Pki::new("chaos-ca");
    let root = tempfile::tempdir().unwrap();
    let mut slots = Vec::new();
    for id in 1..=n as u64 {
        let addr = loop {
            let a = free_port().await;
            if !slots.iter().any(|s: &Slot| s.addr == a) {
                break a;
            }
        };
        slots.push(Slot {
            id,
            addr,
            dir: root.path().join(format!("m{id}")),
            tls: pki.node_tls(&format!("node{id}")),
            run: None,
        });
    }
    for s in &mut slots {
        launch(s, tick).await;
    }
    let voters: BTreeMap<RaftId, RaftNode> = slots
        .iter()
        .map(|s| (s.id, RaftNode::new(s.addr.clone())))
        .collect();
    slots[0]
        .run
        .as_ref()
        .unwrap()
        .store
        .initialize(voters)
        .await
        .unwrap();
    let all_ids: BTreeSet<RaftId> = slots.iter().map(|s| s.id).collect();

    let stores: Stores = Arc::default();
    publish(&slots, &stores);
    let history: History = Arc::default();
    let epoch = Instant::now();
    let stop_at = epoch + Duration::from_secs(secs);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            tokio::spawn(client(
                c + 1,
                seed,
                stores.clone(),
                history.clone(),
                epoch,
                stop_at,
            ))
        })
        .collect();

    // Faults start once the cluster has served a write, or after 1 s.
    while epoch.elapsed() < Duration::from_secs(1)
        && !history
            .lock()
            .unwrap()
            .iter()
            .any(|(_, o)| !matches!(o.kind, Kind::Read { .. }) && o.ret.is_some())
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut faults = 0;
    let mut demoted = false;
    while Instant::now() < stop_at {
        tokio::time::sleep(Duration::from_millis(150 + rng.below(250))).await;
        faults += 1;
        let dead = slots.iter().filter(|s| s.run.is_none()).count();
        match rng.below(7) {
            0 if dead < (n - 1) / 2 => {
                let victim = match leader_of(&slots) {
                    Some(l) if rng.below(2) == 0 => l,
                    _ => rng.below(n as u64) as usize,
                };
                kill(&mut slots[victim]).await;
            }
            1 => {
                if let Some(i) = slots.iter().position(|s| s.run.is_none()) {
                    launch(&mut slots[i], tick).await;
                }
            }
            2 => {
                // A minority side, often holding the leader.
                let mut side = BTreeSet::new();
                if let Some(l) = leader_of(&slots)
                    && rng.below(2) == 0
                {
                    side.insert(l);
                }
                while side.len() < (n - 1) / 2 {
                    side.insert(rng.below(n as u64) as usize);
                }
                if side.is_empty() {
                    side.insert(rng.below(n as u64) as usize);
                }
                heal_all(&slots);
                partition(&slots, &side);
            }
            3 => heal_all(&slots),
            4 => {
                let (a, b) = (rng.below(n as u64) as usize, rng.below(n as u64) as usize);
                if a != b
                    && let Some(r) = &slots[a].run
                {
                    r.store.network().set_fault(
                        &slots[b].addr,
                        LinkFault {
                            drop_request: rng.below(300) as u32,
                            drop_reply: rng.below(200) as u32,
                            delay: Duration::from_millis(rng.below(40)),
                        },
                    );
                }
            }
            5 => {
                // Membership change on the leader: demote one voter to learner, or restore.
                if let Some(l) = leader_of(&slots) {
                    let store = slots[l].run.as_ref().unwrap().store.clone();
                    let voters = if demoted {
                        all_ids.clone()
                    } else {
                        let out = slots[rng.below(n as u64) as usize].id;
                        all_ids.iter().copied().filter(|id| *id != out).collect()
                    };
                    demoted = !demoted;
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(OP_TIMEOUT, store.change_voters(voters)).await;
                    });
                }
            }
            _ => {}
        }
        publish(&slots, &stores);
    }
    let mut acked = 0;
    for c in clients {
        acked += c.await.unwrap();
    }

    // Heal, restart everyone, restore the voters, and read every object once more.
    heal_all(&slots);
    for s in &mut slots {
        if s.run.is_none() {
            launch(s, tick).await;
        }
    }
    heal_all(&slots);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(l) = leader_of(&slots) {
            let store = &slots[l].run.as_ref().unwrap().store;
            if tokio::time::timeout(OP_TIMEOUT, store.change_voters(all_ids.clone()))
                .await
                .is_ok_and(|r| r.is_ok())
            {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "seed {seed}: the healed cluster never recovered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for k in 0..KEYS {
        let i = (k as usize) % n;
        let store = slots[i].run.as_ref().unwrap().store.clone();
        let call = u64::try_from(epoch.elapsed().as_micros()).unwrap();
        let seen = loop {
            match store
                .read_linearizable(|s| s.services().get(&key_id(k)).and_then(value_of))
                .await
            {
                Ok(v) => break v,
                Err(e) => {
                    assert!(Instant::now() < deadline, "seed {seed}: final read: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let ret = u64::try_from(epoch.elapsed().as_micros()).unwrap();
        history.lock().unwrap().push((
            k,
            Op {
                call,
                ret: Some(ret),
                kind: Kind::Read { seen },
            },
        ));
    }
    for s in &mut slots {
        kill(s).await;
    }

    let history = std::mem::take(&mut *history.lock().unwrap());
    let ops = history.len();
    for k in 0..KEYS {
        let h: Vec<Op> = history
            .iter()
            .filter(|(key, _)| *key == k)
            .map(|(_, o)| o.clone())
            .collect();
        assert!(
            linearizable(None, &h),
            "seed {seed} ({n} members): history of object k{k} is not linearizable:\n{h:#?}"
        );
    }
    Outcome { ops, acked, faults }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_stays_linearizable_under_faults() {
    common::init_tracing();
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let schedules = env("SHOAL_CHAOS_SCHEDULES", 2);
    let secs = env("SHOAL_CHAOS_SECS", 3);
    let first = env("SHOAL_CHAOS_SEED", 1);
    let t0 = Instant::now();
    let (mut ops, mut acked, mut faults) = (0, 0, 0);
    for seed in first..first + schedules {
        let n = if seed % 2 == 1 { 3 } else { 5 };
        let o = schedule(seed, n, secs).await;
        ops += o.ops;
        acked += o.acked;
        faults += o.faults;
        if schedules > 10 && (seed - first + 1) % 10 == 0 {
            println!(
                "chaos: {} schedules, {ops} operations, {acked} acknowledged writes, \
                 {faults} faults, 0 violations ({:?})",
                seed - first + 1,
                t0.elapsed()
            );
        }
    }
    println!(
        "chaos: {schedules} schedules ({secs} s each, 3 and 5 members), {ops} operations, \
         {acked} acknowledged writes, {faults} faults injected, 0 linearizability violations, \
         in {:?}",
        t0.elapsed()
    );
    assert!(acked > 0, "no write was ever acknowledged");
}
