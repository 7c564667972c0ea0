//! A server farm of two DIGEST-MD5 nodes sharing their reauthentication state through
//! Redis (cargo feature `redis`).
//!
//! ```text
//! bash tests/servers/redis.sh start /tmp/redis-farm 6399
//! cargo run --features redis --example farm -- --redis redis://127.0.0.1:6399
//! cargo run --release --features redis --example farm -- --redis redis://127.0.0.1:6399 --bench 20000
//! bash tests/servers/redis.sh stop /tmp/redis-farm 6399
//! ```
//!
//! Starts node A and node B on 127.0.0.1 (each its own TCP listener, its own
//! `RedisReauthStore` and Redis connections, as on two hosts), then a client
//! authenticates on A, reauthenticates (RFC 2831 §2.2, nc=2) on a new connection to B,
//! shows that replaying that response on A is refused, and reauthenticates with nc=3
//! on A. Prints `reauthenticated: nc=2 on node B` and exits 0; exits 1 with one error
//! line on any failure (Redis unreachable included).
//!
//! The nodes speak a tiny line protocol, base64 tokens:
//! ```text
//! C: HELLO                 (first authentication)  | C: R <client-first reauth token>
//! S: S <challenge>                                  | S: OK <rspauth>  or  S <stale challenge>
//! C: C <response>
//! S: OK <rspauth>  or  NO
//! ```
//!
//! `--bench N` instead measures N reauthentications (client and server work, no TCP)
//! with the in-memory `ReauthCache` and then through Redis, alternating the node, and
//! prints reauthentications per second for each.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sasl_digest_md5::redis_store::RedisReauthStore;
use sasl_digest_md5::wire::Challenge;
use sasl_digest_md5::{
    ClientConfig, ClientContext, Credential, QopSet, ReauthCache, ReauthStore, Requirements,
    ServerConfig, ServerContext, Step, StoredSecret, Target,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

const SERVICE: &str = "ldap";
const HOST: &str = "farm.example";
const PREFIX: &str = "farm-example:";

fn users(user: &str, _realm: &str) -> Option<StoredSecret> {
    (user == "alice").then(|| StoredSecret::password("secret"))
}

fn server_config(store: Arc<dyn ReauthStore>) -> ServerConfig {
    ServerConfig::new(SERVICE, HOST)
        .realms(["farm.example"])
        .qops(QopSet::ALL)
        .reauth_cache(store)
}

fn client_config() -> Result<ClientConfig, Error> {
    Ok(ClientConfig::new(
        "alice",
        Credential::password("secret"),
        Target::new(SERVICE, HOST)?,
    )
    .requirements(Requirements::CONFIDENTIALITY))
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .map(|i| {
                args.get(i + 1)
                    .cloned()
                    .ok_or(format!("{name} needs a value"))
            })
            .transpose()
    };
    let url = value("--redis")?.ok_or("usage: farm --redis redis://HOST:PORT [--bench N]")?;
    let open = || -> Result<Arc<RedisReauthStore>, Error> {
        let store = RedisReauthStore::open(&url)?
            .prefix(PREFIX)
            .timeout(Duration::from_millis(500));
        store
            .ping()
            .map_err(|e| format!("cannot reach Redis: {e}"))?;
        Ok(Arc::new(store))
    };
    let (store_a, store_b) = (open()?, open()?);
    if let Some(n) = value("--bench")? {
        let n: u32 = n.parse().map_err(|_| "--bench needs a number")?;
        return bench(n, store_a, store_b);
    }

    let a = start_node(store_a.clone())?;
    let b = start_node(store_b.clone())?;
    println!("node A on {a}, node B on {b}, sharing reauthentication state through Redis");

    // First authentication on node A.
    let mut client = ClientContext::new(client_config()?)?;
    let mut conn = Conn::open(&a)?;
    conn.send("HELLO", None)?;
    let challenge = conn.expect("S")?;
    let Step::Continue(response) = client.step(Some(&challenge))? else {
        return Err("the client did not answer the challenge".into());
    };
    conn.send("C", Some(&response))?;
    client.step(Some(&conn.expect("OK")?))?;
    let n = client.negotiated().ok_or("not established")?;
    println!(
        "authenticated: nc={} on node A (qop {}, cipher {})",
        n.nc,
        n.qop,
        n.cipher.map_or("none".into(), |c| c.to_string())
    );

    // A new connection, to node B: reauthentication with the ticket.
    let ticket = client.reauth_ticket().ok_or("no reauthentication ticket")?;
    let (mut again, token) = ClientContext::resume(client_config()?, ticket)?;
    let mut conn = Conn::open(&b)?;
    conn.send("R", Some(&token))?;
    let (word, answer) = conn.read()?;
    if word != "OK" {
        return Err(format!("node B did not accept the reauthentication (said {word})").into());
    }
    again.step(Some(&answer))?; // rspauth verified
    let nc = again.negotiated().ok_or("not established")?.nc;
    println!("reauthenticated: nc={nc} on node B");

    // The same response replayed on node A: refused.
    let mut conn = Conn::open(&a)?;
    conn.send("R", Some(&token))?;
    match conn.read()? {
        (w, tok) if w == "S" && Challenge::parse(&tok).is_ok_and(|c| c.stale) => {
            println!("replayed nc={nc} on node A: refused with a stale=true challenge")
        }
        (w, _) => return Err(format!("node A answered a replay with {w}").into()),
    }
    drop(conn); // the client gives up on that connection

    // nc=3 back on node A.
    let ticket = again.reauth_ticket().ok_or("no reauthentication ticket")?;
    let (mut third, token) = ClientContext::resume(client_config()?, ticket)?;
    let mut conn = Conn::open(&a)?;
    conn.send("R", Some(&token))?;
    let answer = conn.expect("OK")?;
    third.step(Some(&answer))?;
    println!(
        "reauthenticated: nc={} on node A",
        third.negotiated().ok_or("not established")?.nc
    );
    let failures = store_a.failures() + store_b.failures();
    if failures > 0 {
        return Err(format!("{failures} Redis calls failed").into());
    }
    Ok(())
}

/// A node: a listener on 127.0.0.1, a thread per connection.
fn start_node(store: Arc<RedisReauthStore>) -> Result<String, Error> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?.to_string();
    thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            // A client that misbehaves ends its own connection only.
            let store = store.clone();
            thread::spawn(move || serve(tcp, store));
        }
    });
    Ok(addr)
}

fn serve(tcp: TcpStream, store: Arc<RedisReauthStore>) -> Result<(), Error> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut conn = Conn::new(tcp)?;
    let mut server = ServerContext::new(server_config(store), users)?;
    let (word, token) = conn.read()?;
    let step = match word.as_str() {
        "HELLO" => server.step(None)?,
        "R" => server.step(Some(&token))?,
        _ => return Err("unexpected command".into()),
    };
    let challenge = match step {
        Step::Complete(Some(rspauth)) => return conn.send("OK", Some(&rspauth)),
        Step::Continue(challenge) => challenge,
        Step::Complete(None) => return Err("no rspauth".into()),
    };
    conn.send("S", Some(&challenge))?;
    let response = conn.expect("C")?;
    match server.step(Some(&response)) {
        Ok(Step::Complete(Some(rspauth))) => conn.send("OK", Some(&rspauth)),
        _ => conn.send("NO", None),
    }
}

/// One connection of the line protocol.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(addr: &str) -> Result<Conn, Error> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        Conn::new(tcp)
    }

    fn new(tcp: TcpStream) -> Result<Conn, Error> {
        Ok(Conn {
            writer: tcp.try_clone()?,
            reader: BufReader::new(tcp),
        })
    }

    fn send(&mut self, word: &str, token: Option<&[u8]>) -> Result<(), Error> {
        let line = match token {
            Some(t) => format!("{word} {}\n", B64.encode(t)),
            None => format!("{word}\n"),
        };
        self.writer.write_all(line.as_bytes())?;
        Ok(())
    }

    fn read(&mut self) -> Result<(String, Vec<u8>), Error> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err("connection closed".into());
        }
        let line = line.trim_end();
        let (word, b64) = line.split_once(' ').unwrap_or((line, ""));
        Ok((word.to_owned(), B64.decode(b64)?))
    }

    fn expect(&mut self, want: &str) -> Result<Vec<u8>, Error> {
        let (word, token) = self.read()?;
        if word != want {
            return Err(format!("expected {want}, got {word}").into());
        }
        Ok(token)
    }
}

/// N reauthentications through each store, alternating two nodes (server contexts
/// with their own store handle).
fn bench(total: u32, a: Arc<RedisReauthStore>, b: Arc<RedisReauthStore>) -> Result<(), Error> {
    let total = total.max(1);
    let memory: Arc<dyn ReauthStore> = ReauthCache::new(1024, Duration::from_secs(600));
    let redis: [Arc<dyn ReauthStore>; 2] = [a.clone(), b.clone()];
    println!("{total} reauthentications per run (client + server work, no TCP; nodes alternate):");
    for threads in [1, 4] {
        let in_memory = parallel(total, threads, [memory.clone(), memory.clone()])?;
        let shared = parallel(total, threads, redis.clone())?;
        println!(
            "  {threads} thread(s): in-memory ReauthCache {in_memory:>8.0}/s, \
             RedisReauthStore {shared:>8.0}/s (2 Redis round trips each: reserve, commit)"
        );
    }
    if a.failures() + b.failures() > 0 {
        return Err("Redis calls failed during the benchmark".into());
    }
    Ok(())
}

/// `total` reauthentications spread over `threads` threads: reauthentications per
/// second of wall-clock time.
fn parallel(total: u32, threads: u32, nodes: [Arc<dyn ReauthStore>; 2]) -> Result<f64, Error> {
    let per = (total / threads).max(1);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let nodes = nodes.clone();
            thread::spawn(move || run_bench(per, nodes))
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "a benchmark thread panicked")??;
    }
    Ok(f64::from(per * threads) / start.elapsed().as_secs_f64())
}

/// `total` reauthentications, 200 per nonce (below the default nc limit of 256), each
/// nonce after a first authentication; returns the time spent in reauthentications.
fn run_bench(total: u32, nodes: [Arc<dyn ReauthStore>; 2]) -> Result<Duration, Error> {
    let mut done = 0u32;
    let mut spent = Duration::ZERO;
    while done < total {
        let mut client = ClientContext::new(client_config()?.requirements(Requirements::NONE))?;
        let mut server = ServerContext::new(server_config(nodes[0].clone()), users)?;
        let Step::Continue(ch) = server.step(None)? else {
            return Err("no challenge".into());
        };
        let Step::Continue(resp) = client.step(Some(&ch))? else {
            return Err("no response".into());
        };
        let Step::Complete(Some(ok)) = server.step(Some(&resp))? else {
            return Err("first authentication refused".into());
        };
        client.step(Some(&ok))?;
        let start = Instant::now();
        for i in 0..200.min(total - done) {
            let mut node =
                ServerContext::new(server_config(nodes[(i % 2) as usize].clone()), users)?;
            let Step::Continue(tok) = client.step(None)? else {
                return Err("no reauthentication token".into());
            };
            let Step::Complete(Some(ok)) = node.step(Some(&tok))? else {
                return Err(format!("reauthentication {} refused", i + 2).into());
            };
            client.step(Some(&ok))?;
            done += 1;
        }
        spent += start.elapsed();
    }
    Ok(spent)
}
