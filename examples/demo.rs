//! The main demo: a DIGEST-MD5 client and server talking over TCP on 127.0.0.1.
//!
//! ```text
//! cargo run --example demo                                # auth-conf, strongest cipher
//! cargo run --example demo -- --qop auth-int
//! cargo run --example demo -- --qop auth-conf --cipher 3des
//! ```
//! With no arguments it starts this crate's own DIGEST-MD5 server in process (the
//! embedded default, no setup), authenticates through rsasl, then sends messages
//! through the tokio secure stream and prints what was negotiated and what crossed the
//! wire. To talk to a real server instead, see `examples/ldap.rs`, `imap.rs` and
//! `xmpp.rs`.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rsasl::callback::{Context, Request, SessionCallback, SessionData};
use rsasl::prelude::*;
use rsasl::property::{AuthId, AuthzId, Hostname, Password, Service};
use rsasl::validate::{Validate, ValidationError};
use sasl_digest_md5::mechanism::{
    ClientPolicy, DigestClientPolicy, DigestOutcome, DigestServerPolicy, Outcome, ServerPolicy,
};
use sasl_digest_md5::stream::SecureStream;
use sasl_digest_md5::{Cipher, CipherSet, Qop, QopSet, Requirements, DIGEST_MD5};
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf,
};
use tokio::net::{TcpListener, TcpStream};

static MECHS: &[Mechanism] = &[DIGEST_MD5];
const USER: &str = "alice";
const PASSWORD: &str = "secret";
const HOST: &str = "localhost";

struct ClientCb {
    policy: ClientPolicy,
    outcome: Mutex<Option<Outcome>>,
}

impl SessionCallback for ClientCb {
    fn callback(
        &self,
        _: &SessionData,
        _: &Context,
        req: &mut Request,
    ) -> Result<(), SessionError> {
        if let Some(o) = req.get_action::<DigestOutcome>() {
            *self.outcome.lock().unwrap() = Some(o.clone());
            return Ok(());
        }
        req.satisfy::<AuthId>(USER)?
            .satisfy::<Password>(PASSWORD.as_bytes())?
            .satisfy::<Service>("demo")?
            .satisfy::<Hostname>(HOST)?
            .satisfy::<DigestClientPolicy>(&self.policy)?;
        Ok(())
    }
}

struct Shared(Arc<ClientCb>);
impl SessionCallback for Shared {
    fn callback(&self, s: &SessionData, c: &Context, r: &mut Request) -> Result<(), SessionError> {
        self.0.callback(s, c, r)
    }
}

struct ServerCb;
struct LoggedIn;
impl Validation for LoggedIn {
    type Value = String;
}

impl SessionCallback for ServerCb {
    fn callback(
        &self,
        _: &SessionData,
        ctx: &Context,
        req: &mut Request,
    ) -> Result<(), SessionError> {
        if req.is::<Password>() {
            if ctx.get_ref::<AuthId>() == Some(USER) {
                req.satisfy::<Password>(PASSWORD.as_bytes())?;
            }
            return Ok(());
        }
        let policy = ServerPolicy {
            realms: vec!["demo.example".into()],
            qops: QopSet::ALL,
            ciphers: CipherSet::ALL,
            ..ServerPolicy::default()
        };
        req.satisfy::<Service>("demo")?
            .satisfy::<Hostname>(HOST)?
            .satisfy::<DigestServerPolicy>(&policy)?;
        Ok(())
    }

    fn validate(
        &self,
        _: &SessionData,
        ctx: &Context,
        v: &mut Validate<'_>,
    ) -> Result<(), ValidationError> {
        // The authorization decision: alice may only act as herself.
        let user = ctx.get_ref::<AuthId>().unwrap_or_default();
        let authzid = ctx.get_ref::<AuthzId>().unwrap_or_default();
        if authzid.is_empty() || authzid == user {
            v.finalize::<LoggedIn>(user.to_owned());
        }
        Ok(())
    }
}

/// Counts the bytes that cross the socket, to show the layer's overhead.
struct Counting<S> {
    inner: S,
    read: Arc<AtomicUsize>,
    written: Arc<AtomicUsize>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.read
            .fetch_add(buf.filled().len() - before, Ordering::Relaxed);
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counting<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.written.fetch_add(n, Ordering::Relaxed);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn line<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Result<String, Error> {
    let mut l = String::new();
    if r.read_line(&mut l).await? == 0 {
        return Err("connection closed".into());
    }
    Ok(l.trim_end().to_owned())
}

/// The embedded server: challenge, response, rspauth as `OK` data; then an echo
/// service through the security layer.
async fn serve(listener: TcpListener) -> Result<(), Error> {
    let (tcp, _) = listener.accept().await?;
    let mut io = BufReader::new(tcp);
    let cfg = SASLConfig::builder()
        .with_registry(Registry::with_mechanisms(MECHS))
        .with_callback(ServerCb)?;
    let mut session =
        SASLServer::<LoggedIn>::new(cfg).start_suggested(Mechname::parse(b"DIGEST-MD5")?)?;
    let mut out = Vec::new();
    session.step(None, &mut out)?;
    io.write_all(format!("S {}\n", B64.encode(&out)).as_bytes())
        .await?;
    let l = line(&mut io).await?;
    let resp = B64.decode(l.strip_prefix("C ").ok_or("expected a response")?)?;
    out.clear();
    match session.step(Some(&resp), &mut out) {
        Ok(_) if session.validation().is_some() => {
            io.write_all(format!("OK {}\n", B64.encode(&out)).as_bytes())
                .await?;
        }
        other => {
            io.write_all(b"NO authentication failed\n").await?;
            return Err(format!("server: authentication failed: {other:?}").into());
        }
    }
    if !session.has_security_layer() {
        return Ok(());
    }
    let mut secure = SecureStream::with_session(io, session, 65536)?;
    let mut buf = vec![0u8; 70_000];
    loop {
        let n = secure.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        secure.write_all(&buf[..n]).await?;
        secure.flush().await?;
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let qop = match arg(&args, "--qop").as_deref().unwrap_or("auth-conf") {
        q => Qop::from_token(q).ok_or(format!("unknown qop {q}"))?,
    };
    let ciphers = match arg(&args, "--cipher") {
        Some(c) => vec![Cipher::from_token(&c).ok_or(format!("unknown cipher {c}"))?],
        None => Cipher::ALL.to_vec(),
    };
    let requirements = match qop {
        Qop::Auth => Requirements::NONE,
        Qop::AuthInt => Requirements::INTEGRITY,
        Qop::AuthConf => Requirements::CONFIDENTIALITY,
    };

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("embedded DIGEST-MD5 server listening on {addr} (user {USER}, realm demo.example)");
    let server = tokio::spawn(serve(listener));

    let tcp = TcpStream::connect(addr).await?;
    let (read, written) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let counting = Counting {
        inner: tcp,
        read: read.clone(),
        written: written.clone(),
    };
    let mut io = BufReader::new(counting);
    let cb = Arc::new(ClientCb {
        policy: ClientPolicy {
            requirements,
            max_qop: qop,
            ciphers,
            ..ClientPolicy::default()
        },
        outcome: Mutex::new(None),
    });
    let cfg = SASLConfig::builder()
        .with_registry(Registry::with_mechanisms(MECHS))
        .with_callback(Shared(cb.clone()))?;
    let mut session = SASLClient::new(cfg).start_suggested(&[Mechname::parse(b"DIGEST-MD5")?])?;

    let l = line(&mut io).await?;
    let challenge = B64.decode(l.strip_prefix("S ").ok_or("expected a challenge")?)?;
    println!("S: {}", String::from_utf8_lossy(&challenge));
    let mut out = Vec::new();
    session.step(Some(&challenge), &mut out)?;
    println!("C: {}", String::from_utf8_lossy(&out));
    io.write_all(format!("C {}\n", B64.encode(&out)).as_bytes())
        .await?;
    let l = line(&mut io).await?;
    let rspauth = B64.decode(l.strip_prefix("OK ").ok_or(format!("server said: {l}"))?)?;
    println!("S: {}", String::from_utf8_lossy(&rspauth));
    session.step(Some(&rspauth), &mut Vec::new())?;
    let outcome = cb.outcome.lock().unwrap().clone().ok_or("no outcome")?;
    let n = &outcome.negotiated;
    println!("authenticated: mutual authentication verified (rspauth)");
    println!(
        "negotiated: qop={} cipher={} ssf={} maxbuf client={} server={}",
        n.qop,
        n.cipher.map_or("none".to_owned(), |c| c.to_string()),
        n.ssf,
        n.own_maxbuf,
        n.peer_maxbuf
    );
    if !session.has_security_layer() {
        server.await??;
        return Ok(());
    }
    let mut secure = SecureStream::with_session(io, session, n.own_maxbuf)?;
    for msg in [
        b"hello through the security layer".to_vec(),
        vec![0x5a; 1000],
        (0..100_000u32).map(|i| i as u8).collect(),
    ] {
        let (r0, w0) = (
            read.load(Ordering::Relaxed),
            written.load(Ordering::Relaxed),
        );
        secure.write_all(&msg).await?;
        secure.flush().await?;
        let mut back = vec![0u8; msg.len()];
        secure.read_exact(&mut back).await?;
        if back != msg {
            return Err("the echo differs from what was sent".into());
        }
        println!(
            "sent {} bytes as {} bytes on the wire, echoed back as {} bytes: intact",
            msg.len(),
            written.load(Ordering::Relaxed) - w0,
            read.load(Ordering::Relaxed) - r0
        );
    }
    secure.shutdown().await?;
    drop(secure);
    server.await??;
    println!("done");
    Ok(())
}
