//! `docker node ls` from every manager; what workers refuse; the Swarm section of `docker info`.

use crate::{assert_one_leader, rows};
use shoal_tests::cluster::shared;

#[test]
fn node_ls_from_every_manager_lists_five_nodes_and_one_leader() {
    let c = shared();
    let mut ids_seen = None;
    for m in c.managers() {
        let rows = rows(m);
        assert_eq!(rows.len(), 5, "node ls on {}: {rows:#?}", m.name());
        let mut names: Vec<&str> = rows.iter().map(|r| r.hostname.as_str()).collect();
        names.sort();
        assert_eq!(names, ["m1", "m2", "m3", "w1", "w2"], "on {}", m.name());
        assert!(
            rows.iter()
                .all(|r| r.status == "Ready" && r.availability == "Active"),
            "all Ready/Active on {}: {rows:#?}",
            m.name()
        );
        assert_one_leader(&rows, &["m1", "m2", "m3"]);
        for w in ["w1", "w2"] {
            let r = rows.iter().find(|r| r.hostname == w).unwrap();
            assert_eq!(r.manager_status, "", "{w} is a worker: {rows:#?}");
        }
        // The answering node marks itself, and is the node it says it is.
        let me: Vec<_> = rows.iter().filter(|r| r.is_self).collect();
        assert_eq!(me.len(), 1, "one self row on {}: {rows:#?}", m.name());
        assert_eq!(me[0].hostname, m.name());
        assert_eq!(me[0].id, m.node_id());
        // Every manager sees the same set of node IDs.
        let mut ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        match &ids_seen {
            None => ids_seen = Some(ids),
            Some(prev) => assert_eq!(&ids, prev, "same node IDs from {}", m.name()),
        }
    }
}

#[test]
fn workers_refuse_cluster_management_calls() {
    let c = shared();
    for w in c.workers() {
        let out = w.docker(&["node", "ls"]);
        assert_ne!(out.code, 0, "node ls on worker {} must fail", w.name());
        assert!(
            out.stderr.contains("This node is not a swarm manager"),
            "Docker's wording on {}: {}",
            w.name(),
            out.stderr
        );
        let out = w.docker(&["swarm", "join-token", "worker"]);
        assert!(
            out.code != 0 && out.stderr.contains("This node is not a swarm manager"),
            "join-token on worker {}: {out:?}",
            w.name()
        );
        assert_eq!(w.swarm_state(), "active");
        assert_eq!(w.info("{{.Swarm.ControlAvailable}}"), "false");
    }
}

#[test]
fn info_swarm_section_on_every_node() {
    let c = shared();
    let cluster_id = c.node("m1").info("{{.Swarm.Cluster.ID}}");
    assert!(!cluster_id.is_empty());
    for n in c.nodes() {
        assert_eq!(n.swarm_state(), "active", "{}", n.name());
        assert_eq!(
            n.info("{{.Swarm.NodeAddr}}"),
            n.host.ip,
            "{} advertises its own address",
            n.name()
        );
        if n.is_manager_name() {
            assert_eq!(n.info("{{.Swarm.ControlAvailable}}"), "true");
            assert_eq!(n.info("{{.Swarm.Cluster.ID}}"), cluster_id);
            assert_eq!(n.info("{{.Swarm.Managers}} {{.Swarm.Nodes}}"), "3 5");
        }
        let mut managers: Vec<String> = n
            .info("{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        managers.sort();
        let want: Vec<String> = c
            .managers()
            .iter()
            .map(|m| format!("{}:2377", m.host.ip))
            .collect();
        assert_eq!(managers, want, "RemoteManagers on {}", n.name());
    }
}
