use super::*;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn v1_tree_is_read_with_unlimited_as_none() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let c = "shoal/abc";
    write(root, &format!("memory/{c}/memory.usage_in_bytes"), "4096\n");
    write(
        root,
        &format!("memory/{c}/memory.limit_in_bytes"),
        "9223372036854771712\n",
    );
    write(
        root,
        &format!("memory/{c}/memory.max_usage_in_bytes"),
        "8192\n",
    );
    write(
        root,
        &format!("memory/{c}/memory.stat"),
        "cache 10\ntotal_inactive_file 7\n",
    );
    write(
        root,
        &format!("memory/{c}/memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    );
    write(root, &format!("cpuacct/{c}/cpuacct.usage"), "5000\n");
    write(
        root,
        &format!("cpuacct/{c}/cpuacct.usage_percpu"),
        "3000 2000 \n",
    );
    write(
        root,
        &format!("cpuacct/{c}/cpuacct.stat"),
        "user 3\nsystem 1\n",
    );
    write(
        root,
        &format!("cpu/{c}/cpu.stat"),
        "nr_periods 4\nnr_throttled 1\nthrottled_time 99\n",
    );
    write(root, &format!("pids/{c}/pids.current"), "3\n");
    write(root, &format!("pids/{c}/pids.max"), "max\n");
    write(
        root,
        &format!("blkio/{c}/blkio.throttle.io_service_bytes_recursive"),
        "8:0 Read 512\n8:0 Write 1024\nTotal 1536\n",
    );
    let r = CgroupReader::with_root(CgroupVersion::V1, root, "/shoal/abc");
    let s = r.stats().unwrap();
    assert_eq!(s.mem_usage, 4096);
    assert_eq!(s.mem_limit, None);
    assert_eq!(s.mem_max_usage, Some(8192));
    assert_eq!(s.mem_stat["total_inactive_file"], 7);
    assert_eq!(s.cpu_total, 5000);
    assert_eq!(s.cpu_percpu, Some(vec![3000, 2000]));
    assert_eq!((s.cpu_user, s.cpu_kernel), (30_000_000, 10_000_000));
    assert_eq!(
        (s.throttle_periods, s.throttled_periods, s.throttled_time),
        (4, 1, 99)
    );
    assert_eq!((s.pids_current, s.pids_limit), (3, None));
    assert_eq!(s.io_bytes.len(), 2);
    assert_eq!(s.io_bytes[1].op, "Write");
    assert_eq!(s.io_bytes[1].value, 1024);
    assert_eq!(r.oom_kills().unwrap(), 2);
    let gone = CgroupReader::with_root(CgroupVersion::V1, root, "/shoal/gone");
    assert_eq!(gone.stats().unwrap_err().kind(), io::ErrorKind::NotFound);
}

#[test]
fn v2_tree_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let c = "shoal/abc";
    write(root, &format!("{c}/cgroup.procs"), "1\n");
    write(
        root,
        &format!("{c}/cpu.stat"),
        "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 2\nnr_throttled 1\nthrottled_usec 5\n",
    );
    write(root, &format!("{c}/memory.current"), "2048\n");
    write(root, &format!("{c}/memory.max"), "67108864\n");
    write(
        root,
        &format!("{c}/memory.stat"),
        "anon 100\ninactive_file 20\n",
    );
    write(
        root,
        &format!("{c}/memory.events"),
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
    );
    write(root, &format!("{c}/pids.current"), "2\n");
    write(root, &format!("{c}/pids.max"), "50\n");
    write(
        root,
        &format!("{c}/io.stat"),
        "8:16 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
    );
    let r = CgroupReader::with_root(CgroupVersion::V2, root, "/shoal/abc");
    let s = r.stats().unwrap();
    assert_eq!(
        (s.cpu_total, s.cpu_user, s.cpu_kernel),
        (10_000, 6_000, 4_000)
    );
    assert_eq!(s.cpu_percpu, None);
    assert_eq!(s.throttled_time, 5_000);
    assert_eq!((s.mem_usage, s.mem_limit), (2048, Some(64 << 20)));
    assert_eq!(s.mem_stat["inactive_file"], 20);
    assert_eq!((s.pids_current, s.pids_limit), (2, Some(50)));
    assert_eq!(
        s.io_bytes,
        vec![
            BlkioEntry {
                major: 8,
                minor: 16,
                op: "read".into(),
                value: 100
            },
            BlkioEntry {
                major: 8,
                minor: 16,
                op: "write".into(),
                value: 200
            },
        ]
    );
    assert_eq!(s.io_ops.len(), 2);
    assert_eq!(r.oom_kills().unwrap(), 1);
}

#[test]
fn proc_stat_and_net_dev_parse() {
    let stat = "cpu  10 0 5 100 1 0 2 0 0 0\ncpu0 5 0 2 50 0 0 1 0 0 0\ncpu1 5 0 3 50 1 0 1 0 0 0\nintr 1\n";
    assert_eq!(parse_proc_stat(stat), (118 * NANOS_PER_TICK, 2));
    let dev = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  eth0:    1500      10    1    2    0     0          0         0      700       5    0    3    0     0       0          0\n";
    let n = parse_net_dev(dev);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].0, "eth0");
    assert_eq!(
        n[0].1,
        NetDevStats {
            rx_bytes: 1500,
            rx_packets: 10,
            rx_errors: 1,
            rx_dropped: 2,
            tx_bytes: 700,
            tx_packets: 5,
            tx_errors: 0,
            tx_dropped: 3
        }
    );
}
