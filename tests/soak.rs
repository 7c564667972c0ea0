//! Load and faults on tokio over 127.0.0.1: many concurrent authentications with
//! auth-conf echo traffic, and peers that misbehave. Every wait is bounded.

#[path = "../examples/support/toyproto.rs"]
mod toyproto;

use std::time::Duration;

use sasl_digest_md5::mechanism::ClientPolicy;
use sasl_digest_md5::{Cipher, Qop, Requirements};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

fn conf(cipher: Cipher) -> ClientPolicy {
    ClientPolicy {
        requirements: Requirements::CONFIDENTIALITY,
        max_qop: Qop::AuthConf,
        ciphers: Some(vec![cipher]),
        ..ClientPolicy::default()
    }
}

async fn spawn_server() -> std::net::SocketAddr {
    // A deep accept queue: with the default (128) a burst of 1000 connections
    // overflows it, and the kernel then drops connections that the client already
    // believes open; with a server-first protocol the client would wait forever.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(4096).unwrap();
    let addr = listener.local_addr().unwrap();
    let cfg = toyproto::server_config().unwrap();
    tokio::spawn(async move {
        loop {
            // A failed accept (a connection reset before it was accepted, say) must
            // not stop the server.
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let cfg = cfg.clone();
            tokio::spawn(async move {
                let _ = toyproto::serve(tcp, cfg).await;
            });
        }
    });
    addr
}

async fn one_client(addr: std::net::SocketAddr, i: usize) -> Result<(), toyproto::Error> {
    let cipher = Cipher::ALL[i % Cipher::ALL.len()];
    let limit = Duration::from_secs(60);
    let tcp = timeout(limit, TcpStream::connect(addr))
        .await
        .map_err(|_| "connect timed out")??;
    let c = timeout(
        limit,
        toyproto::connect(tcp, toyproto::PASSWORD, conf(cipher)),
    )
    .await
    .map_err(|_| "authentication timed out")??;
    if c.outcome.negotiated.cipher != Some(cipher) {
        return Err("wrong cipher negotiated".into());
    }
    let mut s = c.stream.ok_or("no layer")?;
    let msg: Vec<u8> = (0..(1000 + i * 37) % 20_000)
        .map(|k| (k * 31 + i) as u8)
        .collect();
    timeout(limit, async {
        s.write_all(&msg).await?;
        s.flush().await
    })
    .await
    .map_err(|_| "write timed out")??;
    let mut back = vec![0u8; msg.len()];
    timeout(limit, s.read_exact(&mut back))
        .await
        .map_err(|_| "echo timed out")??;
    if back != msg {
        return Err("echo differs".into());
    }
    s.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_authentications_with_auth_conf_echo() {
    let addr = spawn_server().await;
    let n: usize = std::env::var("SOAK_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(one_client(addr, i))).collect();
    let all = async {
        let mut failures = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            if let Err(e) = t.await.unwrap() {
                failures.push(format!("client {i}: {e}"));
            }
        }
        failures
    };
    let failures = timeout(Duration::from_secs(300), all)
        .await
        .expect("soak did not finish in 300 s");
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.first()
    );
}

/// A server that authenticates properly, then does `after` to the raw socket.
async fn misbehaving_server(after: fn(&mut Vec<u8>)) -> std::net::SocketAddr {
    use base64::Engine;
    use sasl_digest_md5::{CipherSet, QopSet, ServerConfig, ServerContext, Step, StoredSecret};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut io = BufReader::new(tcp);
        let cfg = ServerConfig::new(toyproto::SERVICE, toyproto::HOST)
            .qops(QopSet::ALL)
            .ciphers(CipherSet::ALL);
        let mut srv = ServerContext::new(cfg, |_: &str, _: &str| {
            Some(StoredSecret::password(toyproto::PASSWORD))
        })
        .unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let Step::Continue(ch) = srv.step(None).unwrap() else {
            panic!()
        };
        io.write_all(format!("S {}\n", b64.encode(ch)).as_bytes())
            .await
            .unwrap();
        let mut l = String::new();
        io.read_line(&mut l).await.unwrap();
        let resp = b64
            .decode(l.trim_end().strip_prefix("C ").unwrap())
            .unwrap();
        let Step::Complete(Some(rsp)) = srv.step(Some(&resp)).unwrap() else {
            panic!()
        };
        io.write_all(format!("OK {}\n", b64.encode(rsp)).as_bytes())
            .await
            .unwrap();
        let (mut tx, _) = srv.security_layer().unwrap();
        let mut frame = Vec::new();
        tx.seal_frame(b"a message that the fault will damage", &mut frame)
            .unwrap();
        after(&mut frame);
        io.write_all(&frame).await.unwrap();
        io.flush().await.unwrap();
        // Then the connection drops.
    });
    addr
}

async fn read_after_fault(after: fn(&mut Vec<u8>)) -> std::io::Error {
    let addr = misbehaving_server(after).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let c = toyproto::connect(tcp, toyproto::PASSWORD, conf(Cipher::Rc4))
        .await
        .unwrap();
    let mut s = c.stream.unwrap();
    let mut buf = vec![0u8; 100];
    let r = timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("read hung");
    let err = r.expect_err("the damaged stream was accepted");
    // The reading side stays failed.
    assert!(timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .unwrap()
        .is_err());
    err
}

#[tokio::test]
async fn connection_dropped_mid_frame() {
    let e = read_after_fault(|f| f.truncate(f.len() - 5)).await;
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
}

#[tokio::test]
async fn garbage_after_success() {
    let e = read_after_fault(|f| f.iter_mut().skip(4).for_each(|b| *b = 0x41)).await;
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
}

#[tokio::test]
async fn length_prefix_claiming_4_gb() {
    let e = read_after_fault(|f| f[..4].copy_from_slice(&[0xff; 4])).await;
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    assert!(e.to_string().contains("maxbuf"), "{e}");
}

#[tokio::test]
async fn server_that_stops_answering_or_drops_mid_exchange() {
    // Accepts, sends nothing: the client's own timeout ends the wait.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move { silent.accept().await.map(|(s, _)| s) });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let r = timeout(
        Duration::from_millis(300),
        toyproto::connect(tcp, "secret", ClientPolicy::default()),
    )
    .await;
    assert!(
        r.is_err(),
        "a silent server must leave the client waiting for its timeout"
    );
    drop(hold);

    // Sends a challenge, then drops the connection.
    let dropper = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = dropper.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = dropper.accept().await.unwrap();
        s.write_all(b"S bm9uY2U9IngiLGFsZ29yaXRobT1tZDUtc2Vzcw==\n")
            .await
            .unwrap();
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let r = timeout(
        Duration::from_secs(10),
        toyproto::connect(tcp, "secret", ClientPolicy::default()),
    )
    .await
    .unwrap();
    let e = r.err().expect("a dropped exchange must fail");
    assert!(e.to_string().contains("closed"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_connection_does_not_affect_others() {
    let addr = spawn_server().await;
    let good = tokio::spawn(one_client(addr, 3));
    // A client with the wrong password, and one that sends garbage.
    let bad = TcpStream::connect(addr).await.unwrap();
    assert!(toyproto::connect(bad, "wrong", conf(Cipher::Rc4))
        .await
        .is_err());
    let mut junk = TcpStream::connect(addr).await.unwrap();
    junk.write_all(b"C \xff\xfe\n\n\n").await.unwrap();
    good.await.unwrap().unwrap();
    one_client(addr, 4).await.unwrap();
}
