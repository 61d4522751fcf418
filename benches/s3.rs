//! S3 move-group benchmarks (not tests): our `move-group` on an S3-backed datastore against
//! `s5cmd mv` and `aws s3 mv --recursive` moving the same objects on the same server, with 0 ms
//! and 20 ms added per-request latency from a latency-injecting TCP proxy that also counts the
//! requests each tool sent (so the floor `requests × latency / concurrency` is per tool).
//!
//! Servers: the in-process s3s-fs server, and SeaweedFS when `BENCH_SEAWEED_URL` points at a
//! running `weed server -s3` (bench/run.sh starts one). Tools from `BENCH_S5CMD` / `BENCH_AWS`
//! (skipped when unset). Prints Markdown table rows; `bench/run.sh` assembles the document.
//!
//! Env: `BENCH_S3_SMALL` (objects in the small-object group, default 5000, 5 per snapshot),
//! `BENCH_S3_BIG` (4 MiB objects, default 200), `BENCH_S3_LATENCIES` (ms, default `0,20`),
//! `BENCH_S3_SERVERS` (`s3s-fs,seaweedfs`).

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pbs_mover::tree::backend::{ContentBackend, SnapshotRef};
use pbs_mover::tree::s3::client::build_client;
use pbs_mover::tree::s3::{
    BackendOptions, Bucket, ClientOptions, EmbeddedS3, S3Backend, S3Target, Secret, ServerOptions,
    upload_tree,
};
use pbs_mover::tree::{GroupId, Namespace, SnapshotTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BIN: &str = env!("CARGO_BIN_EXE_pbs-mover");
const STORE: &str = "store1";
const BUCKET: &str = "bench-bucket";
const ACCESS: &str = "bench-access";
const SECRET: &str = "bench-secret-key";
/// Objects per snapshot: a VM snapshot has a few indexes and blobs.
const PER_SNAPSHOT: usize = 5;
const FILES: [&str; PER_SNAPSHOT] = [
    "client.log.blob",
    "drive-scsi0.img.fidx",
    "drive-scsi1.img.fidx",
    "index.json.blob",
    "qemu-server.conf.blob",
];

fn env_str(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Counts request turns and delays each new request (first client bytes after a response
/// began, or on a new connection) by `delay`: one added round trip per request.
#[derive(Clone)]
struct Proxy {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    delay_ms: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let proxy = Self {
            addr,
            requests: Arc::new(AtomicU64::new(0)),
            delay_ms: Arc::new(AtomicU64::new(0)),
        };
        let p = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let p = p.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let turn = Arc::new(AtomicBool::new(true));
                    let t2 = turn.clone();
                    let up = tokio::spawn(async move {
                        let mut buf = vec![0u8; 256 * 1024];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if turn.swap(false, Ordering::SeqCst) {
                                p.requests.fetch_add(1, Ordering::Relaxed);
                                let ms = p.delay_ms.load(Ordering::Relaxed);
                                if ms > 0 {
                                    tokio::time::sleep(Duration::from_millis(ms)).await;
                                }
                            }
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = sw.shutdown().await;
                    });
                    let mut buf = vec![0u8; 256 * 1024];
                    loop {
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        t2.store(true, Ordering::SeqCst);
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = cw.shutdown().await;
                    let _ = up.await;
                });
            }
        });
        proxy
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

struct Tools {
    s5cmd: Option<PathBuf>,
    aws: Option<PathBuf>,
    aws_config: PathBuf,
}

struct Measured {
    secs: f64,
    requests: u64,
}

fn run_timed(proxy: &Proxy, mut cmd: Command) -> Measured {
    let before = proxy.requests.load(Ordering::Relaxed);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd.output().expect("spawn");
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        eprintln!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return Measured {
            secs: f64::NAN,
            requests: 0,
        };
    }
    Measured {
        secs,
        requests: proxy.requests.load(Ordering::Relaxed) - before,
    }
}

/// The local cache of a datastore whose namespace `a` holds group vm/100 with `objects`
/// objects of `size` bytes (PER_SNAPSHOT per snapshot); namespaces b, c, d empty.
fn build_cache(base: &Path, objects: usize, size: usize) {
    fs::create_dir_all(base.join(".chunks")).expect("mkdir");
    for ns in ["a", "b", "c", "d"] {
        fs::create_dir_all(base.join("ns").join(ns)).expect("mkdir");
    }
    let group = base.join("ns/a/vm/100");
    fs::create_dir_all(&group).expect("mkdir");
    fs::write(group.join("owner"), "root@pam\n").expect("owner");
    let payload: Vec<u8> = (0..size)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3])
        .collect();
    for s in 0..objects.div_ceil(PER_SNAPSHOT) {
        let t = SnapshotTime::from_epoch(1_600_000_000 + s as u64 * 3600);
        let dir = group.join(t.as_str());
        fs::create_dir(&dir).expect("mkdir snapshot");
        for f in FILES {
            fs::write(dir.join(f), &payload).expect("write");
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn bench_case(
    rt: &tokio::runtime::Runtime,
    root: &Path,
    server_name: &str,
    upstream: SocketAddr,
    objects: usize,
    size: usize,
    latency_ms: u64,
    tools: &Tools,
) {
    let target = S3Target {
        url: format!("http://{upstream}"),
        bucket: BUCKET.into(),
        region: "us-east-1".into(),
        path_style: true,
        access_key: ACCESS.into(),
        secret_key: Secret::new(SECRET),
        fingerprint: None,
    };
    let client = build_client(&target, &ClientOptions::default()).expect("client");
    // SeaweedFS starts without buckets; on s3s-fs it exists already (error ignored).
    let _ = rt.block_on(client.create_bucket().bucket(BUCKET).send());
    let bucket = Bucket::new(client, &target);
    let case_dir = root.join(format!("{server_name}-{objects}x{size}-{latency_ms}ms"));
    let base = case_dir.join("cache");
    build_cache(&base, objects, size);
    // Seed under a case-specific store name so cases on one server never see each other.
    let store = format!("{STORE}-{objects}x{size}-{latency_ms}");
    let stats = rt
        .block_on(upload_tree(&bucket, &store, &base, 32))
        .expect("seed bucket");
    let proxy = rt.block_on(Proxy::start(upstream));
    proxy.delay_ms.store(latency_ms, Ordering::Relaxed);
    let endpoint = proxy.url();
    let moved_objects = objects.div_ceil(PER_SNAPSHOT) * PER_SNAPSHOT;

    let mut ours = Command::new(BIN);
    ours.arg("--path")
        .arg(&base)
        .arg("--store")
        .arg(&store)
        .arg("--lock-dir")
        .arg(case_dir.join("locks"))
        .args([
            "--s3-endpoint",
            &endpoint,
            "--s3-bucket",
            BUCKET,
            "--s3-path-style",
        ])
        .args([
            "move-group",
            "--ns",
            "a",
            "--group",
            "vm/100",
            "--target-ns",
            "b",
        ])
        .env("AWS_ACCESS_KEY_ID", ACCESS)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("PBS_MOVER_CONFIG_DIR", case_dir.join("no-config"))
        .stdin(Stdio::null());
    let ours_m = run_timed(&proxy, ours);

    let prefix = |ns: &str| format!("s3://{BUCKET}/{store}/.cnt/ns/{ns}/vm/100/");
    let mut baselines = Vec::new();
    if let Some(s5) = &tools.s5cmd {
        let mut c = Command::new(s5);
        c.args(["--endpoint-url", &endpoint, "mv"])
            .arg(format!("{}*", prefix("b")))
            .arg(prefix("c"))
            .env("AWS_ACCESS_KEY_ID", ACCESS)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", "us-east-1");
        baselines.push(("s5cmd mv", run_timed(&proxy, c)));
    }
    if let Some(aws) = &tools.aws {
        let mut c = Command::new(aws);
        c.args([
            "--endpoint-url",
            &endpoint,
            "s3",
            "mv",
            "--recursive",
            "--only-show-errors",
        ])
        .arg(prefix("c"))
        .arg(prefix("d"))
        .env("AWS_ACCESS_KEY_ID", ACCESS)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_CONFIG_FILE", &tools.aws_config)
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
        baselines.push(("aws s3 mv --recursive", run_timed(&proxy, c)));
    }
    let size_label = if size >= 1 << 20 {
        format!("{} MiB", size >> 20)
    } else {
        format!("{size} B")
    };
    let case = format!(
        "S3 move-group, {moved_objects} objects × {size_label}, {server_name}, +{latency_ms} ms"
    );
    let floor = |m: &Measured, conc: f64| m.requests as f64 * latency_ms as f64 / 1000.0 / conc;
    let ops = |m: &Measured| moved_objects as f64 / m.secs;
    eprintln!(
        "{case}: seeded {} objects / {} bytes; ours {:.2}s {} req",
        stats.objects, stats.bytes, ours_m.secs, ours_m.requests
    );
    for (name, b) in &baselines {
        println!(
            "| {case} | {:.2} s ({:.0} obj/s, {} req, floor {:.2} s) | {name} | {:.2} s ({:.0} obj/s, {} req) | {:.2}x |",
            ours_m.secs,
            ops(&ours_m),
            ours_m.requests,
            floor(&ours_m, 32.0),
            b.secs,
            ops(b),
            b.requests,
            ours_m.secs / b.secs
        );
    }
    if baselines.is_empty() {
        println!(
            "| {case} | {:.2} s ({:.0} obj/s, {} req) | floor requests×latency/32 | {:.2} s | {:.2}x |",
            ours_m.secs,
            ops(&ours_m),
            ours_m.requests,
            floor(&ours_m, 32.0),
            ours_m.secs / floor(&ours_m, 32.0).max(1e-9)
        );
    }
    let _ = fs::remove_dir_all(&case_dir);
}

/// Backend level, before/after the batch API: the engine today copies and deletes one
/// snapshot after the other (`copy_snapshot` + `delete_source`, no renames here); the batch
/// API (`copy_snapshots` + `delete_sources`) does a lock batch at once. Same data, same proxy.
fn bench_backend_batch(
    rt: &tokio::runtime::Runtime,
    root: &Path,
    upstream: SocketAddr,
    objects: usize,
    latency_ms: u64,
) {
    let proxy = rt.block_on(Proxy::start(upstream));
    let target = |url: String| S3Target {
        url,
        bucket: BUCKET.into(),
        region: "us-east-1".into(),
        path_style: true,
        access_key: ACCESS.into(),
        secret_key: Secret::new(SECRET),
        fingerprint: None,
    };
    let direct = target(format!("http://{upstream}"));
    let bucket = Bucket::new(
        build_client(&direct, &ClientOptions::default()).expect("client"),
        &direct,
    );
    let base = root.join(format!("backend-{objects}-{latency_ms}"));
    build_cache(&base, objects, 1024);
    let store = format!("be-{objects}-{latency_ms}");
    rt.block_on(upload_tree(&bucket, &store, &base, 32))
        .expect("seed");
    let backend =
        S3Backend::new(&target(proxy.url()), &store, &BackendOptions::default()).expect("backend");
    proxy.delay_ms.store(latency_ms, Ordering::Relaxed);
    let group = GroupId::parse("vm/100").expect("group");
    let snap = |ns: &str, i: usize| SnapshotRef {
        ns: Namespace::parse(ns).expect("ns"),
        group: group.clone(),
        time: SnapshotTime::from_epoch(1_600_000_000 + i as u64 * 3600),
    };
    let n = objects.div_ceil(PER_SNAPSHOT);
    // Before: a → b, one snapshot at a time.
    let r0 = proxy.requests.load(Ordering::Relaxed);
    let start = Instant::now();
    for i in 0..n {
        let p =
            ContentBackend::copy_snapshot(&backend, &snap("a", i), &snap("b", i)).expect("copy");
        assert!(backend.delete_source(&p).is_empty(), "orphans");
    }
    let before = start.elapsed().as_secs_f64();
    let r1 = proxy.requests.load(Ordering::Relaxed);
    // After: b → c in lock batches of 512.
    let start = Instant::now();
    let all: Vec<(SnapshotRef, SnapshotRef)> =
        (0..n).map(|i| (snap("b", i), snap("c", i))).collect();
    for chunk in all.chunks(512) {
        let prepared: Vec<_> = backend
            .copy_snapshots(chunk)
            .into_iter()
            .map(|r| r.expect("copy"))
            .collect();
        assert!(backend.delete_sources(&prepared).is_empty(), "orphans");
    }
    let after = start.elapsed().as_secs_f64();
    let r2 = proxy.requests.load(Ordering::Relaxed);
    println!(
        "| S3 backend copy+verify+delete, {} objects × 1 KiB, s3s-fs, +{latency_ms} ms: batch API (copy_snapshots/delete_sources) | {after:.2} s ({:.0} obj/s, {} req, floor {:.2} s) | per-snapshot copy_snapshot/delete_source (engine today) | {before:.2} s ({:.0} obj/s, {} req) | {:.2}x |",
        n * PER_SNAPSHOT,
        (n * PER_SNAPSHOT) as f64 / after,
        r2 - r1,
        (r2 - r1) as f64 * latency_ms as f64 / 1000.0 / 32.0,
        (n * PER_SNAPSHOT) as f64 / before,
        r1 - r0,
        after / before
    );
    drop(backend);
    let _ = fs::remove_dir_all(&base);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let root = tempfile::Builder::new()
        .prefix("pbs-mover-s3bench-")
        .tempdir_in(env_str("BENCH_DIR", "/var/tmp"))
        .expect("tempdir");
    let aws_config = root.path().join("aws-config");
    fs::write(
        &aws_config,
        "[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n",
    )
    .expect("aws config");
    let tools = Tools {
        s5cmd: std::env::var_os("BENCH_S5CMD").map(PathBuf::from),
        aws: std::env::var_os("BENCH_AWS").map(PathBuf::from),
        aws_config,
    };
    let embedded = rt
        .block_on(EmbeddedS3::start(ServerOptions {
            root: root.path().join("s3s-fs"),
            buckets: vec![BUCKET.into()],
            access_key: ACCESS.into(),
            secret_key: Secret::new(SECRET),
            tls: None,
        }))
        .expect("embedded server");
    let mut servers: Vec<(String, SocketAddr)> = Vec::new();
    let wanted = env_str("BENCH_S3_SERVERS", "s3s-fs,seaweedfs");
    if wanted.contains("s3s-fs") {
        servers.push(("s3s-fs (in-process)".into(), embedded.addr()));
    }
    if wanted.contains("seaweedfs")
        && let Ok(url) = std::env::var("BENCH_SEAWEED_URL")
        && let Some(addr) = url
            .strip_prefix("http://")
            .and_then(|a| a.parse::<SocketAddr>().ok())
    {
        servers.push(("SeaweedFS".into(), addr));
    }
    let latencies: Vec<u64> = env_str("BENCH_S3_LATENCIES", "0,20")
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let small = env_usize("BENCH_S3_SMALL", 5000);
    let big = env_usize("BENCH_S3_BIG", 200);
    for (name, addr) in &servers {
        for &lat in &latencies {
            if small > 0 {
                bench_case(&rt, root.path(), name, *addr, small, 1024, lat, &tools);
            }
            if big > 0 {
                bench_case(&rt, root.path(), name, *addr, big, 4 << 20, lat, &tools);
            }
        }
    }
    if let Ok(spec) = std::env::var("BENCH_S3_BACKEND") {
        // e.g. "5000:20": objects and added latency.
        let mut it = spec.split(':').filter_map(|v| v.parse::<usize>().ok());
        let objects = it.next().unwrap_or(5000);
        let latency = it.next().unwrap_or(20) as u64;
        bench_backend_batch(&rt, root.path(), embedded.addr(), objects, latency);
    }
    drop(embedded);
}
