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

use pbs_mover::tree::SnapshotTime;
use pbs_mover::tree::s3::client::build_client;
use pbs_mover::tree::s3::{
    Bucket, ClientOptions, EmbeddedS3, S3Target, Secret, ServerOptions, upload_tree,
};
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
    /// Our S3 requests in flight, one run each (`BENCH_S3_CONCURRENCY`, e.g. `64,256`).
    concurrency: Vec<usize>,
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
    fs::write(base.join(".lock"), b"").expect("lock file");
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

    // Ours at each concurrency, moving the group a → b → a …; the tools then move it on.
    let mut ours_runs = Vec::new();
    let mut here = "a";
    for &conc in &tools.concurrency {
        let there = if here == "a" { "b" } else { "a" };
        let mut ours = Command::new(BIN);
        // Lock files only, as on the PBS 4 hosts that have S3 datastores.
        ours.env("PBS_MOVER_PBS_VERSION", "4.2.3");
        ours.arg("--path")
            .arg(&base)
            .arg("--store")
            .arg(&store)
            .arg("--lock-dir")
            .arg(case_dir.join("locks"))
            .arg("--state-dir")
            .arg(case_dir.join("state"))
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
                here,
                "--group",
                "vm/100",
                "--target-ns",
                there,
            ])
            .env("AWS_ACCESS_KEY_ID", ACCESS)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("PBS_MOVER_S3_CONCURRENCY", conc.to_string())
            .env("PBS_MOVER_CONFIG_DIR", case_dir.join("no-config"))
            .stdin(Stdio::null());
        ours_runs.push((conc, run_timed(&proxy, ours)));
        here = there;
    }

    let prefix = |ns: &str| format!("s3://{BUCKET}/{store}/.cnt/ns/{ns}/vm/100/");
    let mut baselines = Vec::new();
    let mut hops = ["c", "d", "e", "f"].into_iter();
    let mut from = here.to_string();
    let mut hop = |from: &mut String| {
        let to = hops.next().unwrap_or("z");
        let pair = (format!("{}*", prefix(from)), prefix(to));
        *from = to.to_string();
        pair
    };
    if let Some(s5) = &tools.s5cmd {
        for workers in [None, tools.concurrency.first().copied()] {
            let (src, dst) = hop(&mut from);
            let mut c = Command::new(s5);
            c.args(["--endpoint-url", &endpoint]);
            if let Some(w) = workers {
                c.args(["--numworkers", &w.to_string()]);
            }
            c.arg("mv")
                .arg(src)
                .arg(dst)
                .env("AWS_ACCESS_KEY_ID", ACCESS)
                .env("AWS_SECRET_ACCESS_KEY", SECRET)
                .env("AWS_REGION", "us-east-1");
            let name = match workers {
                None => "s5cmd mv (default 256 workers)".to_string(),
                Some(w) => format!("s5cmd --numworkers {w} mv"),
            };
            baselines.push((name, run_timed(&proxy, c)));
        }
    }
    if let Some(aws) = &tools.aws {
        let (src, dst) = hop(&mut from);
        let mut c = Command::new(aws);
        c.args([
            "--endpoint-url",
            &endpoint,
            "s3",
            "mv",
            "--recursive",
            "--only-show-errors",
        ])
        .arg(src.trim_end_matches('*'))
        .arg(dst)
        .env("AWS_ACCESS_KEY_ID", ACCESS)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_CONFIG_FILE", &tools.aws_config)
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
        baselines.push(("aws s3 mv --recursive".to_string(), run_timed(&proxy, c)));
    }
    let size_label = if size >= 1 << 20 {
        format!("{} MiB", size >> 20)
    } else {
        format!("{size} B")
    };
    let case = format!(
        "S3 move-group, {moved_objects} objects × {size_label}, {server_name}, +{latency_ms} ms"
    );
    let floor =
        |m: &Measured, conc: usize| m.requests as f64 * latency_ms as f64 / 1000.0 / conc as f64;
    let ops = |m: &Measured| moved_objects as f64 / m.secs;
    for (conc, ours_m) in &ours_runs {
        eprintln!(
            "{case}: seeded {} objects / {} bytes; ours ({conc} in flight) {:.2}s {} req",
            stats.objects, stats.bytes, ours_m.secs, ours_m.requests
        );
        let ours_cell = format!(
            "{:.2} s ({:.0} obj/s, {} req, {conc} in flight, floor {:.2} s)",
            ours_m.secs,
            ops(ours_m),
            ours_m.requests,
            floor(ours_m, *conc)
        );
        for (name, b) in &baselines {
            println!(
                "| {case} | {ours_cell} | {name} | {:.2} s ({:.0} obj/s, {} req) | {:.2}x |",
                b.secs,
                ops(b),
                b.requests,
                ours_m.secs / b.secs
            );
        }
        if baselines.is_empty() || latency_ms > 0 {
            println!(
                "| {case} | {ours_cell} | floor requests × latency / {conc} | {:.2} s | {:.2}x |",
                floor(ours_m, *conc),
                ours_m.secs / floor(ours_m, *conc).max(1e-9)
            );
        }
    }
    let _ = fs::remove_dir_all(&case_dir);
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
        concurrency: env_str(
            "BENCH_S3_CONCURRENCY",
            &pbs_mover::tree::s3::DEFAULT_CONCURRENCY.to_string(),
        )
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect(),
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
    drop(embedded);
}
