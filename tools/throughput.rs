//! Security-layer throughput, authentication rate and memory: this crate next to
//! Cyrus SASL (measured in the same run by `tools/cyrus/bench.c`, built on demand)
//! and next to the bare primitives (the ceiling).
//!
//! ```text
//! cargo run --release --example throughput              # plain-text table
//! cargo run --release --example throughput -- --json    # one JSON object per line
//! cargo run --release --example throughput -- --no-cyrus --ms 100
//! ```
//! (`examples/throughput.rs` is a thin wrapper around this module.)
//!
//! MB/s is plaintext (10^6 bytes/s) through `seal` on one side and `unseal` on the
//! other, one thread; time is the thread's CPU time (read from
//! `/proc/thread-self/schedstat`; the Cyrus harness uses `CLOCK_THREAD_CPUTIME_ID`,
//! the same counter), so other load on a shared machine does not count.
//!
//! * `ours`: `Sealer::seal(msg, &mut wire)` + `Unsealer::unseal(&wire, &mut plain)`.
//! * `cyrus`: `sasl_encode` on a Cyrus client + `sasl_decode` on a Cyrus server.
//!   3des runs with `tools/cyrus/des_shim.so` preloaded (stock Cyrus 2.1.28 cannot
//!   key 3des on OpenSSL 3), marked `"shim": true`.
//! * `primitive`: HMAC-MD5 (precomputed key state) then the cipher over the same
//!   bytes, in place, both ways, one after the other: the work any implementation
//!   must do, with the crate's own building blocks (`layer::primitives::{hmac,
//!   rc4, des}`, each checked against the RustCrypto
//!   crates). `ours` beats it for RC4 because the layer runs RC4 inside the MD5 loop.
//!
//! Also: full client+server authentications per second (ours with an in-memory
//! credential store, Cyrus with its sasldb), heap allocations per sealed+unsealed
//! message (must be 0), and bytes of memory per established context.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use sasl_digest_md5::layer;
use sasl_digest_md5::layer::primitives::des as des_core;
use sasl_digest_md5::layer::primitives::hmac::HmacMd5;
use sasl_digest_md5::layer::primitives::rc4::Rc4;
use sasl_digest_md5::{
    Cipher, CipherSet, ClientConfig, ClientContext, Credential, Qop, QopSet, ServerConfig,
    ServerContext, Side, Step, StoredSecret, Target,
};
use serde_json::{json, Value};

// ---------- allocation counting ----------

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc_zeroed(l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---------- clock ----------

/// This thread's CPU time in seconds (scheduler's sum_exec_runtime).
fn cpu_now() -> f64 {
    let mut f = std::fs::File::open("/proc/thread-self/schedstat")
        .expect("/proc/thread-self/schedstat (Linux) is needed for CPU time");
    let mut buf = [0u8; 128];
    let n = f.read(&mut buf).expect("read schedstat");
    let s = std::str::from_utf8(&buf[..n]).expect("schedstat is text");
    let ns: u64 = s
        .split_whitespace()
        .next()
        .and_then(|x| x.parse().ok())
        .expect("schedstat field 1");
    ns as f64 * 1e-9
}

/// Runs `f` in growing batches until `secs` of CPU time have passed; returns calls/s.
fn rate(secs: f64, mut f: impl FnMut()) -> (f64, u64) {
    for _ in 0..3 {
        f(); // warm-up
    }
    let (mut iters, mut batch) = (0u64, 1u64);
    let t0 = cpu_now();
    loop {
        for _ in 0..batch {
            f();
        }
        iters += batch;
        let t = cpu_now() - t0;
        if t >= secs {
            return (iters as f64 / t, iters);
        }
        if t < secs / 20.0 {
            batch *= 2;
        }
    }
}

// ---------- configurations ----------

const CONFIGS: [(Qop, Option<Cipher>); 6] = [
    (Qop::AuthInt, None),
    (Qop::AuthConf, Some(Cipher::Rc4)),
    (Qop::AuthConf, Some(Cipher::Rc4_40)),
    (Qop::AuthConf, Some(Cipher::Rc4_56)),
    (Qop::AuthConf, Some(Cipher::Des)),
    (Qop::AuthConf, Some(Cipher::TripleDes)),
];
const SIZES: [usize; 4] = [64, 1024, 16384, 65536];
/// Both sides advertise this, so that a 64 KiB message fits in one frame (as for Cyrus).
const MAXBUF: u32 = 131072;
const HA1: [u8; 16] = *b"throughput-ha1!!";

fn cipher_name(c: Option<Cipher>) -> Option<&'static str> {
    c.map(Cipher::as_str)
}

fn message(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i as u32 * 131 + 7) as u8).collect()
}

/// ours: seal on a client, unseal on a server.
fn ours(qop: Qop, cipher: Option<Cipher>, size: usize, secs: f64) -> f64 {
    let (mut tx, _) = layer::establish(&HA1, qop, cipher, Side::Client, MAXBUF, MAXBUF).unwrap();
    let (_, mut rx) = layer::establish(&HA1, qop, cipher, Side::Server, MAXBUF, MAXBUF).unwrap();
    let msg = message(size);
    let mut wire = Vec::with_capacity(size + 64);
    let mut plain = Vec::with_capacity(size + 64);
    let mut once = |check: bool| {
        wire.clear();
        plain.clear();
        tx.seal(&msg, &mut wire).unwrap();
        rx.unseal(&wire, &mut plain).unwrap();
        if check {
            assert_eq!(plain, msg);
        }
    };
    once(true);
    let (r, _) = rate(secs, || once(false));
    once(true);
    r * size as f64 / 1e6
}

/// Heap allocations per seal+unseal in steady state (must be 0).
fn allocs_per_message(qop: Qop, cipher: Option<Cipher>) -> f64 {
    let (mut tx, _) = layer::establish(&HA1, qop, cipher, Side::Client, MAXBUF, MAXBUF).unwrap();
    let (_, mut rx) = layer::establish(&HA1, qop, cipher, Side::Server, MAXBUF, MAXBUF).unwrap();
    let msg = message(16384);
    let mut wire = Vec::with_capacity(16384 + 64);
    let mut plain = Vec::with_capacity(16384 + 64);
    let before = ALLOCS.load(Ordering::Relaxed);
    for n in [0, 1, 64, 1000, 16384].iter().cycle().take(100) {
        wire.clear();
        plain.clear();
        tx.seal(&msg[..*n], &mut wire).unwrap();
        rx.unseal(&wire, &mut plain).unwrap();
    }
    (ALLOCS.load(Ordering::Relaxed) - before) as f64 / 100.0
}

#[allow(clippy::large_enum_variant)]
enum PrimCipher {
    None,
    Rc4(Box<Rc4>),
    Des(des_core::DesCbc),
    Tdes(des_core::TripleDesCbc),
}

impl PrimCipher {
    fn new(c: Option<Cipher>) -> Self {
        let k = [0x5au8; 16];
        match c {
            None => PrimCipher::None,
            Some(Cipher::Des) => PrimCipher::Des(des_core::DesCbc::new(&[1; 8], [2; 8])),
            Some(Cipher::TripleDes) => {
                PrimCipher::Tdes(des_core::TripleDesCbc::new(&[1; 8], &[3; 8], [2; 8]))
            }
            Some(_) => PrimCipher::Rc4(Box::new(Rc4::new(&k))),
        }
    }
    fn enc(&mut self, b: &mut [u8]) {
        match self {
            PrimCipher::None => {}
            PrimCipher::Rc4(c) => c.apply_keystream(b),
            PrimCipher::Des(c) => c.encrypt(b),
            PrimCipher::Tdes(c) => c.encrypt(b),
        }
    }
    fn dec(&mut self, b: &mut [u8]) {
        match self {
            PrimCipher::None => {}
            PrimCipher::Rc4(c) => c.apply_keystream(b),
            PrimCipher::Des(c) => c.decrypt(b),
            PrimCipher::Tdes(c) => c.decrypt(b),
        }
    }
}

/// primitive: HMAC-MD5(seq || msg) + cipher over msg [|| pad] || MAC, then the
/// reverse, in place, no framing, no copies.
fn primitive(cipher: Option<Cipher>, size: usize, secs: f64) -> f64 {
    let key = HmacMd5::new(&[9u8; 16]);
    let block = cipher.is_some_and(Cipher::is_block);
    let pad = if block { 8 - (size + 10) % 8 } else { 0 };
    let mut buf = message(size);
    buf.resize(size + pad + 10, pad as u8);
    let (mut enc, mut dec) = (PrimCipher::new(cipher), PrimCipher::new(cipher));
    let mut seq = 0u32;
    let (r, _) = rate(secs, || {
        let mac = key.mac10(seq, &buf[..size]);
        buf[size + pad..].copy_from_slice(&mac);
        enc.enc(&mut buf);
        dec.dec(&mut buf);
        let mac2 = key.mac10(seq, &buf[..size]);
        assert_eq!(mac2[..], buf[size + pad..]);
        seq = seq.wrapping_add(1);
    });
    r * size as f64 / 1e6
}

// ---------- authentication ----------

fn store(user: &str, _realm: &str) -> Option<StoredSecret> {
    (user == "alice").then(|| StoredSecret::password("bench-secret"))
}

fn server_config() -> ServerConfig {
    ServerConfig::new("imap", "bench.example.com")
        .realms(["bench.example.com"])
        .qops(QopSet::ALL)
        .ciphers(CipherSet::ALL)
}

fn client_config() -> ClientConfig {
    ClientConfig::new(
        "alice",
        Credential::password("bench-secret"),
        Target::new("imap", "bench.example.com").unwrap(),
    )
}

fn authenticate(c: ClientConfig, s: ServerConfig) -> (ClientContext, ServerContext) {
    let mut client = ClientContext::new(c).unwrap();
    let mut server = ServerContext::new(s, store).unwrap();
    let Step::Continue(ch) = server.step(None).unwrap() else {
        panic!("no challenge")
    };
    let Step::Continue(resp) = client.step(Some(&ch)).unwrap() else {
        panic!("no response")
    };
    let Step::Complete(Some(rspauth)) = server.step(Some(&resp)).unwrap() else {
        panic!("server did not complete")
    };
    assert_eq!(client.step(Some(&rspauth)).unwrap(), Step::Complete(None));
    (client, server)
}

/// Bytes per established context: size_of plus live heap, for the authenticated
/// client+server contexts and for an established layer (Sealer + Unsealer, one side).
fn memory() -> Vec<Value> {
    let mut out = Vec::new();
    let live = || LIVE.load(Ordering::Relaxed);
    drop(authenticate(client_config(), server_config())); // one-off init
    let h0 = live();
    let (client, server) = authenticate(client_config(), server_config());
    let heap = live() - h0;
    let stack = std::mem::size_of::<ClientContext>() + std::mem::size_of::<ServerContext>();
    out.push(json!({"impl": "ours", "kind": "memory", "what": "client+server contexts after authentication",
        "bytes": stack as isize + heap, "size_of": stack, "heap": heap}));
    drop((client, server));
    for (qop, cipher) in CONFIGS {
        let h0 = live();
        let pair = layer::establish(&HA1, qop, cipher, Side::Client, MAXBUF, MAXBUF).unwrap();
        let heap = live() - h0;
        let stack = std::mem::size_of::<layer::Sealer>() + std::mem::size_of::<layer::Unsealer>();
        out.push(
            json!({"impl": "ours", "kind": "memory", "what": "layer (Sealer + Unsealer)",
            "qop": qop.as_str(), "cipher": cipher_name(cipher),
            "bytes": stack as isize + heap, "size_of": stack, "heap": heap}),
        );
        drop(pair);
    }
    out
}

// ---------- Cyrus ----------

fn cyrus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/cyrus")
}

fn build_cyrus() -> Result<(), String> {
    let dir = cyrus_dir();
    let bin = dir.join("build/bench");
    let shim = dir.join("build/des_shim.so");
    let mtime = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    let fresh = match (mtime(&bin), mtime(&dir.join("bench.c"))) {
        (Some(b), Some(s)) => b >= s && shim.exists(),
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    let st = Command::new("bash")
        .arg(dir.join("build_bench.sh"))
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("running build_bench.sh: {e}"))?;
    if !st.success() {
        return Err(
            "tools/cyrus/build_bench.sh failed (needs gcc libsasl2-dev libsasl2-modules \
                    libsasl2-modules-db libssl-dev)"
                .into(),
        );
    }
    Ok(())
}

fn run_cyrus(ms: f64, preload_shim: bool, ciphers: &str) -> Result<Vec<Value>, String> {
    let dir = cyrus_dir();
    let mut cmd = Command::new(dir.join("build/bench"));
    cmd.args(["--ciphers", ciphers, "--ms", &format!("{ms}")]);
    cmd.args(["--maxbuf", &MAXBUF.to_string()]);
    cmd.args(["--sizes", &SIZES.map(|s| s.to_string()).join(",")]);
    if preload_shim {
        cmd.env("LD_PRELOAD", dir.join("build/des_shim.so"));
        cmd.args(["--shim", "--no-auth"]);
    } else {
        cmd.args(["--auth-ms", &format!("{}", ms * 5.0)]);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("running Cyrus bench: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "Cyrus bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("bad line {l:?}: {e}")))
        .collect()
}

// ---------- main ----------

pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json_out = args.iter().any(|a| a == "--json");
    let no_cyrus = args.iter().any(|a| a == "--no-cyrus");
    let ms: f64 = args
        .iter()
        .position(|a| a == "--ms")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(200.0);
    let secs = ms / 1000.0;
    let emit = |v: &Value| {
        if json_out {
            println!("{v}");
        }
    };

    // (impl, qop, cipher, size) -> MB/s
    let mut results: BTreeMap<(String, String, Option<String>, usize), f64> = BTreeMap::new();
    let mut extra: Vec<Value> = Vec::new();
    let put = |results: &mut BTreeMap<_, _>, imp: &str, qop: &str, c: Option<&str>, size, v| {
        results.insert(
            (
                imp.to_string(),
                qop.to_string(),
                c.map(str::to_string),
                size,
            ),
            v,
        );
    };

    // Cyrus first (it is a separate process; nothing of ours runs meanwhile).
    let mut cyrus_notes = Vec::new();
    if !no_cyrus {
        if let Err(e) = build_cyrus() {
            eprintln!("error: {e}\n(pass --no-cyrus to measure without Cyrus)");
            std::process::exit(1);
        }
        let mut lines = Vec::new();
        for (shim, list) in [(false, "auth-int,rc4,rc4-40,rc4-56,des"), (true, "3des")] {
            match run_cyrus(ms, shim, list) {
                Ok(v) => lines.extend(v),
                Err(e) => {
                    eprintln!("error: {e}\n(pass --no-cyrus to measure without Cyrus)");
                    std::process::exit(1);
                }
            }
        }
        for v in lines {
            match v["kind"].as_str() {
                Some("seal_unseal") => {
                    let size = v["size"].as_u64().unwrap() as usize;
                    put(
                        &mut results,
                        "cyrus",
                        v["qop"].as_str().unwrap(),
                        v["cipher"].as_str(),
                        size,
                        v["mb_per_s"].as_f64().unwrap(),
                    );
                    let mut o = json!({"impl": "cyrus", "qop": v["qop"], "cipher": v["cipher"],
                        "size": size, "mb_per_s": v["mb_per_s"]});
                    if v["shim"].as_bool() == Some(true) {
                        o["shim"] = json!(true);
                    }
                    emit(&o);
                }
                Some("error") => {
                    cyrus_notes.push(format!("cyrus: {}", v["error"]));
                    emit(&v);
                }
                _ => {
                    emit(&v);
                    extra.push(v);
                }
            }
        }
    }

    for (qop, cipher) in CONFIGS {
        for size in SIZES {
            let v = ours(qop, cipher, size, secs);
            put(
                &mut results,
                "ours",
                qop.as_str(),
                cipher_name(cipher),
                size,
                v,
            );
            emit(
                &json!({"impl": "ours", "qop": qop.as_str(), "cipher": cipher_name(cipher),
                "size": size, "mb_per_s": (v * 100.0).round() / 100.0}),
            );
            let p = primitive(cipher, size, secs);
            put(
                &mut results,
                "primitive",
                qop.as_str(),
                cipher_name(cipher),
                size,
                p,
            );
            emit(
                &json!({"impl": "primitive", "qop": qop.as_str(), "cipher": cipher_name(cipher),
                "size": size, "mb_per_s": (p * 100.0).round() / 100.0}),
            );
        }
        let a = allocs_per_message(qop, cipher);
        let v = json!({"impl": "ours", "kind": "allocs_per_message", "qop": qop.as_str(),
            "cipher": cipher_name(cipher), "allocs": a});
        emit(&v);
        extra.push(v);
    }

    let (auth, n) = rate(secs * 5.0, || {
        std::hint::black_box(authenticate(client_config(), server_config()));
    });
    let v = json!({"impl": "ours", "kind": "auth_per_s", "per_s": (auth * 10.0).round() / 10.0,
        "iters": n, "store": "in-memory closure"});
    emit(&v);
    extra.push(v);
    for v in memory() {
        emit(&v);
        extra.push(v);
    }

    if json_out {
        return;
    }

    // ---------- table ----------
    println!(
        "{:<10} {:<7} {:>6} | {:>9} {:>9} {:>9} | {:>9} {:>9}",
        "qop", "cipher", "size", "ours", "cyrus", "primitive", "ours/cyr", "ours/prim"
    );
    println!("{}", "-".repeat(86));
    for (qop, cipher) in CONFIGS {
        for size in SIZES {
            let key = |imp: &str| {
                (
                    imp.to_string(),
                    qop.as_str().to_string(),
                    cipher_name(cipher).map(str::to_string),
                    size,
                )
            };
            let o = results.get(&key("ours")).copied();
            let c = results.get(&key("cyrus")).copied();
            let p = results.get(&key("primitive")).copied();
            let f = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.1}"));
            let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
                _ => "-".to_string(),
            };
            let cname = match cipher {
                Some(Cipher::TripleDes) if !no_cyrus => "3des*",
                Some(c) => c.as_str(),
                None => "-",
            };
            println!(
                "{:<10} {:<7} {:>6} | {:>9} {:>9} {:>9} | {:>9} {:>9}",
                qop.as_str(),
                cname,
                size,
                f(o),
                f(c),
                f(p),
                ratio(o, c),
                ratio(o, p)
            );
        }
    }
    println!("MB/s = 10^6 plaintext bytes/s, seal + unseal, one thread, thread CPU time.");
    if !no_cyrus {
        println!("* Cyrus 3des measured with tools/cyrus/des_shim.so preloaded.");
    }
    for n in &cyrus_notes {
        println!("note: {n}");
    }
    println!();
    for v in &extra {
        match v["kind"].as_str() {
            Some("auth_per_s") => println!(
                "auth/s       {:<6} {:>9.1}  (store: {})",
                v["impl"].as_str().unwrap_or("?"),
                v["per_s"].as_f64().unwrap_or(0.0),
                v["store"].as_str().unwrap_or("?")
            ),
            Some("allocs_per_message") if v["allocs"].as_f64() != Some(0.0) => println!(
                "ALLOCATIONS per message {} {}: {}",
                v["qop"], v["cipher"], v["allocs"]
            ),
            Some("memory") if v["impl"] == "ours" => println!(
                "memory       ours   {:>9} B  {} {} {}",
                v["bytes"],
                v["what"].as_str().unwrap_or(""),
                v["qop"].as_str().unwrap_or(""),
                v["cipher"].as_str().unwrap_or("")
            ),
            Some("memory") => println!(
                "memory       cyrus  {:>9} B  client+server conns after auth {} {} \
                 ({} B after messages)",
                v["heap_bytes_after_auth"],
                v["qop"].as_str().unwrap_or(""),
                v["cipher"].as_str().unwrap_or(""),
                v["heap_bytes_after_messages"]
            ),
            _ => {}
        }
    }
    if extra
        .iter()
        .filter(|v| v["kind"] == "allocs_per_message")
        .all(|v| v["allocs"].as_f64() == Some(0.0))
    {
        println!("allocations per seal+unseal in steady state: 0 (every qop/cipher)");
    }
}
