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
//! wire.
//!
//! Given `--server HOST:PORT` it talks to a real server instead, with
//! `--protocol ldap|imap|xmpp|zookeeper|smtp` (default: from the port,
//! 389/143/5222/2181/25 or 587) and the flags of `examples/ldap.rs`, `imap.rs`,
//! `xmpp.rs`, `zookeeper.rs` and `smtp.rs`:
//! ```text
//! cargo run --example demo -- --protocol ldap --server 127.0.0.1:389 --user alice --password secret --qop auth-conf
//! ```

#[path = "common/mod.rs"]
mod common;
#[path = "support/toyproto.rs"]
mod toyproto;

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use sasl_digest_md5::mechanism::ClientPolicy;
use sasl_digest_md5::{Cipher, Qop, Requirements};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use toyproto::{Error, PASSWORD, USER};

/// Counts the bytes that cross the socket, to show the layer's overhead.
struct Counting<S> {
    inner: S,
    read: Arc<AtomicUsize>,
    written: Arc<AtomicUsize>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
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
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.written.fetch_add(n, Ordering::Relaxed);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
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

/// Against a real server: the protocol examples' code.
async fn real_server(mut args: Vec<String>) -> Result<(), Error> {
    let protocol = match args.iter().position(|a| a == "--protocol") {
        Some(i) if i + 1 < args.len() => {
            let p = args.remove(i + 1);
            args.remove(i);
            p
        }
        Some(_) => return Err("--protocol needs a value".into()),
        None => match arg(&args, "--server")
            .and_then(|s| s.rsplit(':').next().map(str::to_owned))
            .as_deref()
        {
            Some("389") => "ldap".into(),
            Some("143") => "imap".into(),
            Some("5222") => "xmpp".into(),
            Some("2181") => "zookeeper".into(),
            Some("25" | "587") => "smtp".into(),
            _ => return Err("say --protocol ldap|imap|xmpp|zookeeper|smtp".into()),
        },
    };
    let a = common::Args::parse(&args, std::env::var("DIGEST_MD5_PASSWORD").ok())
        .map_err(|e| e.to_string())?;
    let r = match protocol.as_str() {
        "ldap" => common::ldap::run(&a).await.map(|_| ()),
        "imap" => common::imap::run(&a).await.map(|_| ()),
        "xmpp" => common::xmpp::run(&a).await.map(|_| ()),
        "zookeeper" => common::zookeeper::run(&a).await.map(|_| ()),
        "smtp" => common::smtp::run(&a).await.map(|_| ()),
        other => return Err(format!("unknown protocol {other}").into()),
    };
    r.map_err(|e| e.to_string().into())
}

async fn run() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--server") {
        return real_server(args).await;
    }
    let q = arg(&args, "--qop").unwrap_or_else(|| "auth-conf".into());
    let qop = Qop::from_token(&q).ok_or(format!("unknown qop {q}"))?;
    let ciphers = match arg(&args, "--cipher") {
        Some(c) => Some(vec![
            Cipher::from_token(&c).ok_or(format!("unknown cipher {c}"))?
        ]),
        None => None, // the default: rc4 or 3des (112-bit floor)
    };
    let requirements = match qop {
        Qop::Auth => Requirements::NONE,
        Qop::AuthInt => Requirements::INTEGRITY,
        Qop::AuthConf => Requirements::CONFIDENTIALITY,
    };

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("embedded DIGEST-MD5 server listening on {addr} (user {USER}, realm demo.example)");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        toyproto::serve(tcp, toyproto::server_config()?).await
    });

    let tcp = TcpStream::connect(addr).await?;
    let (read, written) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let counting = Counting {
        inner: tcp,
        read: read.clone(),
        written: written.clone(),
    };
    let policy = ClientPolicy {
        requirements,
        max_qop: qop,
        ciphers,
        ..ClientPolicy::default()
    };
    let connected = toyproto::connect(counting, PASSWORD, policy).await?;
    for (who, token) in &connected.transcript {
        println!("{who}: {}", String::from_utf8_lossy(token));
    }
    let n = &connected.outcome.negotiated;
    println!("authenticated: mutual authentication verified (rspauth)");
    println!(
        "negotiated: qop={} cipher={} ssf={} maxbuf client={} server={}",
        n.qop,
        n.cipher.map_or("none".to_owned(), |c| c.to_string()),
        n.ssf,
        n.own_maxbuf,
        n.peer_maxbuf
    );
    let Some(mut secure) = connected.stream else {
        server.await??;
        println!("done (qop auth: no security layer)");
        return Ok(());
    };
    let messages: [Vec<u8>; 3] = [
        b"hello through the security layer".to_vec(),
        vec![0x5a; 1000],
        (0..100_000u32).map(|i| i as u8).collect(),
    ];
    for msg in messages {
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
