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
//! `BENCH_S3_SERVERS` (`s3s-fs,seaweedfs`), `BENCH_S3_CONCURRENCY` (our most requests in
//! flight; unset: the binary's default).
//!
//! `BENCH_BEFORE_BIN=<pbs-mover binary>` switches to the before/after comparison: that
//! binary, this build and s5cmd (at its default 256 workers) move the same seeded group in
//! `BENCH_S3_ROUNDS` (default 3) interleaved rounds, the order rotating each round; the rows
//! give medians with requests per object, the notes each tool's requests by kind (from the
//! request heads the proxy reads) and the body bytes each way (a server-side copy sends no
//! object data through the client). `BENCH_S3_TIMELINE=<ms>` prints every run's requests
//! per time slice on stderr, which shows where a run waits.

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
/// began, or on a new connection) by `delay`: one added round trip per request. It also
/// reads each request's and response's head, so it can tell the request kinds apart
/// (CopyObject, ListObjectsV2, …) and count body bytes each way: a server-side copy moves
/// no object data through the client, a download+upload moves every byte twice.
#[derive(Clone)]
struct Proxy {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    delay_ms: Arc<AtomicU64>,
    traffic: Arc<Mutex<Traffic>>,
}

/// What the proxy saw, cumulative; a run's share is the difference of two snapshots.
#[derive(Clone, Default)]
struct Traffic {
    kinds: BTreeMap<&'static str, u64>,
    /// Bytes after the head of each request (upload bodies, DeleteObjects XML).
    request_body: u64,
    /// Bytes after the head of each response (downloads, listings, copy results).
    response_body: u64,
    /// (ms since the proxy started, kind) of every request: the timeline of a run.
    starts: Vec<(u64, &'static str)>,
    /// TCP connections opened to the proxy: requests ÷ connections shows the reuse.
    connections: u64,
}

impl Traffic {
    fn since(&self, before: &Traffic) -> Traffic {
        let mut kinds = self.kinds.clone();
        for (k, n) in &before.kinds {
            if let Some(v) = kinds.get_mut(k) {
                *v -= n;
            }
        }
        kinds.retain(|_, n| *n > 0);
        Traffic {
            kinds,
            request_body: self.request_body - before.request_body,
            response_body: self.response_body - before.response_body,
            starts: self.starts[before.starts.len()..].to_vec(),
            connections: self.connections - before.connections,
        }
    }

    /// `CopyObject 5000, ListObjectsV2 21, …`, most frequent first.
    fn kinds_line(&self) -> String {
        let mut v: Vec<_> = self.kinds.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The S3 operation of a request head (`PUT /bucket/key HTTP/1.1` + headers); `None` when
/// the bytes are no request head (a body sent after `100 Continue`).
fn request_kind(head: &str) -> Option<&'static str> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?;
    let target = first.next()?;
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let has = |q: &str| {
        query
            .split('&')
            .any(|p| p == q || p.starts_with(&format!("{q}=")))
    };
    let copy = lines.any(|l| l.to_ascii_lowercase().starts_with("x-amz-copy-source:"));
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let segments = path.split('/').filter(|s| !s.is_empty()).count();
    Some(match method {
        "HEAD" => "HeadObject",
        "GET" if has("list-type") => "ListObjectsV2",
        "GET" if segments == 0 => "ListBuckets",
        "GET" if segments == 1 => "ListObjects",
        "GET" => "GetObject",
        "PUT" if copy && has("partNumber") => "UploadPartCopy",
        "PUT" if copy => "CopyObject",
        "PUT" if has("partNumber") => "UploadPart",
        "PUT" if segments == 1 => "CreateBucket",
        "PUT" => "PutObject",
        "POST" if has("delete") => "DeleteObjects",
        "POST" if has("uploads") => "CreateMultipartUpload",
        "POST" if has("uploadId") => "CompleteMultipartUpload",
        "DELETE" if has("uploadId") => "AbortMultipartUpload",
        "DELETE" => "DeleteObject",
        _ => return None,
    })
}

/// One direction of one connection: where the current message's head ends.
struct Framer {
    /// Bytes of the current head read so far; `None` once the head is complete.
    head: Option<Vec<u8>>,
}

impl Framer {
    fn new() -> Self {
        Self { head: None }
    }

    fn start(&mut self) {
        self.head = Some(Vec::new());
    }

    /// Feeds bytes; returns the complete head (once) and how many bytes were body.
    fn feed(&mut self, bytes: &[u8]) -> (Option<String>, u64) {
        let Some(head) = &mut self.head else {
            return (None, bytes.len() as u64);
        };
        let seen = head.len();
        head.extend_from_slice(bytes);
        let from = seen.saturating_sub(3);
        match head[from..].windows(4).position(|w| w == b"\r\n\r\n") {
            Some(p) => {
                let end = from + p + 4;
                let body = (head.len() - end) as u64;
                let text = String::from_utf8_lossy(&head[..end]).into_owned();
                self.head = None;
                (Some(text), body)
            }
            None => (None, 0),
        }
    }
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let proxy = Self {
            addr,
            requests: Arc::new(AtomicU64::new(0)),
            delay_ms: Arc::new(AtomicU64::new(0)),
            traffic: Arc::new(Mutex::new(Traffic::default())),
        };
        let p = proxy.clone();
        let epoch = Instant::now();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                p.traffic.lock().expect("traffic").connections += 1;
                let p = p.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    p.pipe(client, server, epoch).await;
                });
            }
        });
        proxy
    }

    fn traffic(&self) -> Traffic {
        self.traffic.lock().expect("traffic").clone()
    }

    /// Relays one connection both ways, delaying and classifying each request.
    async fn pipe(self, client: TcpStream, server: TcpStream, epoch: Instant) {
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (mut cr, mut cw) = client.into_split();
        let (mut sr, mut sw) = server.into_split();
        // `turn`: the server answered since the client last sent (next bytes: new request);
        // `answer`: the client sent since the server last answered (next bytes: new head).
        let turn = Arc::new(AtomicBool::new(true));
        let answer = Arc::new(AtomicBool::new(false));
        let (t2, a2) = (turn.clone(), answer.clone());
        let p = self.clone();
        let up = tokio::spawn(async move {
            let mut buf = vec![0u8; 256 * 1024];
            let mut framer = Framer::new();
            loop {
                let n = match cr.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if turn.swap(false, Ordering::SeqCst) {
                    framer.start();
                    let ms = p.delay_ms.load(Ordering::Relaxed);
                    if ms > 0 {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                }
                answer.store(true, Ordering::SeqCst);
                let (head, body) = framer.feed(&buf[..n]);
                {
                    let mut t = p.traffic.lock().expect("traffic");
                    t.request_body += body;
                    if let Some(kind) = head.as_deref().and_then(request_kind) {
                        p.requests.fetch_add(1, Ordering::Relaxed);
                        *t.kinds.entry(kind).or_default() += 1;
                        t.starts.push((epoch.elapsed().as_millis() as u64, kind));
                    }
                }
                if sw.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            let _ = sw.shutdown().await;
        });
        let mut buf = vec![0u8; 256 * 1024];
        let mut framer = Framer::new();
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if a2.swap(false, Ordering::SeqCst) {
                framer.start();
            }
            t2.store(true, Ordering::SeqCst);
            let (_, body) = framer.feed(&buf[..n]);
            self.traffic.lock().expect("traffic").response_body += body;
            if cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = cw.shutdown().await;
        let _ = up.await;
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
    traffic: Traffic,
}

fn run_timed(proxy: &Proxy, mut cmd: Command) -> Measured {
    let before = proxy.requests.load(Ordering::Relaxed);
    let traffic = proxy.traffic();
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd.output().expect("spawn");
    let secs = start.elapsed().as_secs_f64();
    let traffic = proxy.traffic().since(&traffic);
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
            traffic,
        };
    }
    Measured {
        secs,
        requests: proxy.requests.load(Ordering::Relaxed) - before,
        traffic,
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

/// The bench bucket on the server at `upstream`, created if missing.
fn bench_bucket(rt: &tokio::runtime::Runtime, upstream: SocketAddr) -> Bucket {
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
    Bucket::new(client, &target)
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
    let bucket = bench_bucket(rt, upstream);
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

/// One tool of the interleaved comparison.
#[derive(Clone, Copy, PartialEq)]
enum Mover<'a> {
    /// This build of pbs-mover.
    Ours,
    /// Another pbs-mover binary (`BENCH_BEFORE_BIN`: main before the change).
    Before(&'a Path),
    /// `s5cmd mv` at its default 256 workers.
    S5cmd(&'a Path),
}

impl Mover<'_> {
    fn label(&self) -> String {
        match self {
            Mover::Ours => "ours".into(),
            Mover::Before(p) => format!("before ({})", p.display()),
            Mover::S5cmd(_) => "s5cmd mv (default 256 workers)".into(),
        }
    }
}

/// Where the interleaved runs move the group: namespace `NS_RING[i]` to `NS_RING[i + 1]`.
const NS_RING: [&str; 4] = ["a", "b", "c", "d"];

/// A pbs-mover `move-group` of vm/100 from namespace `from` to `to` through the proxy.
fn pbs_mover_cmd(bin: &Path, case: &CaseDirs, endpoint: &str, from: &str, to: &str) -> Command {
    let mut c = Command::new(bin);
    // Lock files only, as on the PBS 4 hosts that have S3 datastores.
    c.env("PBS_MOVER_PBS_VERSION", "4.2.3");
    c.arg("--path")
        .arg(&case.base)
        .arg("--store")
        .arg(&case.store)
        .arg("--lock-dir")
        .arg(&case.locks)
        .arg("--state-dir")
        .arg(case.dir.join("state"))
        .args([
            "--s3-endpoint",
            endpoint,
            "--s3-bucket",
            BUCKET,
            "--s3-path-style",
        ])
        .args([
            "move-group",
            "--ns",
            from,
            "--group",
            "vm/100",
            "--target-ns",
            to,
        ])
        .env("AWS_ACCESS_KEY_ID", ACCESS)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("PBS_MOVER_CONFIG_DIR", case.dir.join("no-config"))
        .stdin(Stdio::null());
    if let Ok(n) = std::env::var("BENCH_S3_CONCURRENCY") {
        c.env("PBS_MOVER_S3_CONCURRENCY", n);
    }
    c
}

/// The dirs of one comparison case.
struct CaseDirs {
    dir: PathBuf,
    base: PathBuf,
    locks: PathBuf,
    store: String,
}

/// One move by `tool` from `from` to `to`. s5cmd moves only the bucket, so the cache's group
/// dir is renamed after it (untimed), as the datastore would have it.
fn run_mover(
    tool: Mover<'_>,
    proxy: &Proxy,
    case: &CaseDirs,
    (from, to): (&str, &str),
) -> Measured {
    let endpoint = proxy.url();
    match tool {
        Mover::Ours => run_timed(
            proxy,
            pbs_mover_cmd(Path::new(BIN), case, &endpoint, from, to),
        ),
        Mover::Before(bin) => run_timed(proxy, pbs_mover_cmd(bin, case, &endpoint, from, to)),
        Mover::S5cmd(s5) => {
            let prefix = |ns: &str| format!("s3://{BUCKET}/{}/.cnt/ns/{ns}/vm/100/", case.store);
            let mut c = Command::new(s5);
            c.args(["--endpoint-url", &endpoint, "mv"])
                .arg(format!("{}*", prefix(from)))
                .arg(prefix(to))
                .env("AWS_ACCESS_KEY_ID", ACCESS)
                .env("AWS_SECRET_ACCESS_KEY", SECRET)
                .env("AWS_REGION", "us-east-1");
            let m = run_timed(proxy, c);
            let ns = |n: &str| case.base.join("ns").join(n).join("vm");
            fs::create_dir_all(ns(to)).expect("mkdir target type dir");
            fs::rename(ns(from).join("100"), ns(to).join("100")).expect("rename cache group");
            m
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Requests per `BENCH_S3_TIMELINE` ms of a run, by kind, on stderr: where a run waits
/// shows up as a gap.
fn print_timeline(label: &str, t: &Traffic) {
    let width = env_usize("BENCH_S3_TIMELINE", 500).max(1) as u64;
    let Some(&(t0, _)) = t.starts.first() else {
        return;
    };
    let mut buckets: BTreeMap<u64, BTreeMap<&str, u64>> = BTreeMap::new();
    for &(ms, kind) in &t.starts {
        *buckets
            .entry((ms - t0) / width)
            .or_default()
            .entry(kind)
            .or_default() += 1;
    }
    eprintln!("timeline {label}:");
    for (b, kinds) in buckets {
        let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        eprintln!(
            "  {:>5.1}s {}",
            (b * width) as f64 / 1000.0,
            kinds.join(", ")
        );
    }
}

/// `BENCH_BEFORE_BIN`: the same group moved around `NS_RING` by the before binary, ours and
/// s5cmd in `rounds` interleaved rounds (the order rotates every round), on one seeded
/// bucket; rows with the medians, requests per object and a note of each tool's requests
/// by kind and body bytes through the proxy.
#[allow(clippy::too_many_arguments)]
fn compare_case(
    rt: &tokio::runtime::Runtime,
    root: &Path,
    server_name: &str,
    upstream: SocketAddr,
    (objects, size): (usize, usize),
    latency_ms: u64,
    before: &Path,
    s5cmd: Option<&Path>,
) {
    let bucket = bench_bucket(rt, upstream);
    let dir = root.join(format!("cmp-{server_name}-{objects}x{size}-{latency_ms}ms"));
    let base = dir.join("cache");
    build_cache(&base, objects, size);
    let store = format!(
        "cmp-{STORE}-{objects}x{size}-{latency_ms}-{}",
        std::process::id()
    );
    rt.block_on(upload_tree(&bucket, &store, &base, 32))
        .expect("seed bucket");
    let locks = std::env::var_os("BENCH_LOCK_DIR")
        .map_or_else(|| dir.clone(), PathBuf::from)
        .join(format!("s3cmp-locks-{store}"));
    let case = CaseDirs {
        dir,
        base,
        locks,
        store,
    };
    let proxy = rt.block_on(Proxy::start(upstream));
    proxy.delay_ms.store(latency_ms, Ordering::Relaxed);
    let mut tools = vec![Mover::Before(before), Mover::Ours];
    tools.extend(s5cmd.map(Mover::S5cmd));
    let rounds = env_usize("BENCH_S3_ROUNDS", 3).max(1);
    let mut runs: Vec<Vec<Measured>> = tools.iter().map(|_| Vec::new()).collect();
    let mut at = 0;
    for r in 0..rounds {
        for k in 0..tools.len() {
            let i = (k + r) % tools.len();
            let hop = (NS_RING[at % 4], NS_RING[(at + 1) % 4]);
            at += 1;
            let m = run_mover(tools[i], &proxy, &case, hop);
            eprintln!(
                "round {r} {}: {:.2} s, {} req ({})",
                tools[i].label(),
                m.secs,
                m.requests,
                m.traffic.kinds_line()
            );
            if std::env::var_os("BENCH_S3_TIMELINE").is_some() {
                print_timeline(&tools[i].label(), &m.traffic);
            }
            runs[i].push(m);
        }
    }
    let moved = objects.div_ceil(PER_SNAPSHOT) * PER_SNAPSHOT;
    let size_label = if size >= 1 << 20 {
        format!("{} MiB", size >> 20)
    } else {
        format!("{} KiB", size >> 10)
    };
    let case_name = format!(
        "S3 move-group, {moved} × {size_label}, {server_name}, +{latency_ms} ms, median of {rounds}"
    );
    let summary: Vec<(f64, String)> = runs
        .iter()
        .map(|ms| {
            let secs = median(ms.iter().map(|m| m.secs).collect());
            let req = median(ms.iter().map(|m| m.requests as f64).collect());
            let cell = format!(
                "{secs:.2} s ({:.0} obj/s, {req:.0} req, {:.2} req/obj)",
                moved as f64 / secs,
                req / moved as f64
            );
            (secs, cell)
        })
        .collect();
    let (ours_secs, ours_cell) = &summary[1];
    for (i, (secs, cell)) in summary.iter().enumerate() {
        if i != 1 {
            println!(
                "| {case_name} | {ours_cell} | {} | {cell} | {:.2}x |",
                tools[i].label(),
                ours_secs / secs
            );
        }
    }
    for (tool, ms) in tools.iter().zip(&runs) {
        if let Some(m) = ms.last() {
            println!(
                "NOTE {case_name}, {} (last round): {}; {} connections; body bytes through the proxy: {} up, {} down",
                tool.label(),
                m.traffic.kinds_line(),
                m.traffic.connections,
                m.traffic.request_body,
                m.traffic.response_body
            );
        }
    }
    let _ = fs::remove_dir_all(&case.dir);
    let _ = fs::remove_dir_all(&case.locks);
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
    let before_bin = std::env::var_os("BENCH_BEFORE_BIN").map(PathBuf::from);
    for (name, addr) in &servers {
        for &lat in &latencies {
            if let Some(before) = &before_bin {
                for n in [(small, 1024), (big, 4 << 20)]
                    .into_iter()
                    .filter(|c| c.0 > 0)
                {
                    compare_case(
                        &rt,
                        root.path(),
                        name,
                        *addr,
                        n,
                        lat,
                        before,
                        tools.s5cmd.as_deref(),
                    );
                }
                continue;
            }
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
