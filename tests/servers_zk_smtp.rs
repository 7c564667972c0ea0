//! The ZooKeeper and SMTP example clients with this crate's DIGEST-MD5 mechanism
//! against real servers: Apache ZooKeeper 3.8 with SASL required (ZooKeeper's SASL
//! packets, whoAmI, a node created / read back / deleted, checked from outside with
//! ZooKeeper's own `zkCli.sh`), and a private Postfix instance (SMTP AUTH through
//! Cyrus SASL, RFC 4954 `334` continuations, the message really delivered). Both
//! servers offer qop auth only.
//!
//! ZOOKEEPER-4839 (3.8.0): after a successful login an unknown user is checked
//! against the last good password, so negative tests use known users with wrong
//! passwords, and each ZooKeeper test has its own server and runs its logins in
//! sequence.

#[path = "../examples/common/mod.rs"]
mod clients;
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use clients::Args;
use common::servers::{Kind, Server};

fn args(server: &Server, user: &str, password: &str) -> Args {
    Args::for_test(&server.addr(), user, password, "DIGEST-MD5")
}

/// ZooKeeper arguments without `--host`/`--realm`: the example's defaults apply.
fn zk_args(server: &Server, user: &str, password: &str) -> Args {
    let mut a = args(server, user, password);
    a.host_given = false;
    a.realm = None;
    a
}

/// ZooKeeper's own CLI (a JVM), authenticated as alice, against the server in
/// `dir` (its script writes `DIR/zkcli.sh`); stdout and stderr.
fn zkcli(dir: &Path, argv: &[&str]) -> String {
    let out = Command::new("timeout")
        .arg("60")
        .arg(dir.join("zkcli.sh"))
        .args(argv)
        .output()
        .expect("run zkcli.sh");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const SASL_REQUIRED: &str = "ZooKeeper error -124: session closed, SASL required";

#[tokio::test]
async fn zookeeper_node_written_by_the_example_is_really_there() {
    let srv = Server::start(Kind::ZooKeeper);
    let a = zk_args(&srv, "alice", "secret");
    let srv_ref = &srv;
    let inspected = std::sync::Mutex::new(None);
    let out = clients::zookeeper::run_inspect(&a, |path| async {
        // 1. ZooKeeper's own client, logged in as alice, reads the node.
        let (dir, p) = (srv_ref.dir.clone(), path.clone());
        let cli = tokio::task::spawn_blocking(move || zkcli(&dir, &["get", &p]))
            .await
            .unwrap();
        // 2. An unauthenticated session cannot read it: the server enforces SASL.
        let tcp = tokio::net::TcpStream::connect(srv_ref.addr())
            .await
            .unwrap();
        let mut anon = clients::zookeeper::Conn::handshake(tcp, Duration::from_secs(10))
            .await
            .unwrap();
        let anon_err = anon.get_data(&path).await.unwrap_err().to_string();
        // 3. bob, authenticated, is not in the node's ACL (sasl:alice only).
        let (mut bob, _) = clients::zookeeper::login(&zk_args(srv_ref, "bob", "b0b-p@ss"))
            .await
            .unwrap();
        let bob_who = bob.who_am_i().await.unwrap();
        let bob_err = bob.get_data(&path).await.unwrap_err().to_string();
        bob.close().await.unwrap();
        *inspected.lock().unwrap() = Some((path, cli, anon_err, bob_who, bob_err));
        Ok(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail()));

    assert_eq!(out.mechanism, "DIGEST-MD5");
    assert_eq!(out.negotiated, "negotiated: qop=auth cipher=none");
    assert!(
        out.whoami.contains(&"sasl:alice".to_string()),
        "{:?}",
        out.whoami
    );
    assert_ne!(out.session_id, 0);
    let (path, cli, anon_err, bob_who, bob_err) = inspected.lock().unwrap().take().unwrap();
    assert_eq!(path, out.path);
    let data = String::from_utf8(out.data.clone()).unwrap();
    assert_eq!(data, "written by sasl-digest-md5 as sasl:alice");
    assert!(
        cli.lines().any(|l| l == data),
        "zkCli.sh get {path} did not show {data:?}:\n{cli}"
    );
    assert_eq!(anon_err, format!("getData {path} failed ({SASL_REQUIRED})"));
    assert!(bob_who.contains(&"sasl:bob".to_string()), "{bob_who:?}");
    assert_eq!(
        bob_err,
        format!("getData {path} failed (ZooKeeper error -102: not authorized (ACL))")
    );
    // The example deleted the node before closing its session.
    let cli = zkcli(&srv.dir, &["get", &path]);
    assert!(cli.contains("Node does not exist"), "{cli}");
}

#[tokio::test]
async fn zookeeper_wrong_password_wrong_host_and_unreachable() {
    let srv = Server::start(Kind::ZooKeeper);
    // Known users with wrong passwords, before and after a good login (in sequence:
    // ZOOKEEPER-4839). The error is the translated ZooKeeper code, on one line.
    for (user, pw) in [("alice", "wrong"), ("bob", "secret")] {
        let err = clients::zookeeper::run(&zk_args(&srv, user, pw))
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(err, format!("authentication failed ({SASL_REQUIRED})"));
    }
    let out = clients::zookeeper::run(&zk_args(&srv, "bob", "b0b-p@ss"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail()));
    assert!(
        out.whoami.contains(&"sasl:bob".to_string()),
        "{:?}",
        out.whoami
    );
    let err = clients::zookeeper::run(&zk_args(&srv, "alice", "wrong"))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("authentication failed ({SASL_REQUIRED})"));

    // --host and --realm override the defaults: ZooKeeper insists on its own.
    let mut a = zk_args(&srv, "alice", "secret");
    a.host = "localhost".into();
    a.host_given = true;
    let err = clients::zookeeper::run(&a).await.unwrap_err().to_string();
    assert_eq!(err, format!("authentication failed ({SASL_REQUIRED})"));
    // The explicit defaults work.
    let mut a = zk_args(&srv, "alice", "secret");
    a.host = "zk-sasl-md5".into();
    a.host_given = true;
    a.realm = Some("zk-sasl-md5".into());
    clients::zookeeper::run(&a)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail()));

    // qop auth only: requiring a layer is refused before anything is sent.
    let mut a = zk_args(&srv, "alice", "secret");
    a.qop = "auth-conf".into();
    let err = clients::zookeeper::run(&a).await.unwrap_err().to_string();
    assert!(err.contains("downgrade refused"), "{err}");
    assert!(!err.contains('\n'), "{err}");

    // An unreachable server: a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut a = zk_args(&srv, "alice", "secret");
    a.server = format!("127.0.0.1:{port}");
    let err = clients::zookeeper::run(&a).await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("connecting to 127.0.0.1:{port}: ")),
        "{err}"
    );
}

/// Wait (bounded) for a delivered message containing `needle` in `maildir/new`.
fn delivered(maildir: &Path, needle: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(entries) = std::fs::read_dir(maildir.join("new")) {
            for e in entries.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                if text.contains(needle) {
                    return Some(text);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Whether Postfix's log (written asynchronously by postlogd) shows `needle`
/// within 30 s.
fn postfix_logged(srv: &Server, needle: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let log = std::fs::read_to_string(srv.dir.join("postfix.log")).unwrap_or_default();
        if log.contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[tokio::test]
async fn smtp_postfix_auth_digest_md5_and_the_message_is_delivered() {
    let srv = Server::start(Kind::Postfix);
    for (user, pw) in [("alice", "secret"), ("bob", "b0b-p@ss")] {
        let mut a = args(&srv, user, pw);
        a.realm = Some("realm".into());
        let out = clients::smtp::run(&a)
            .await
            .unwrap_or_else(|e| panic!("{user}: {e}\n{}", srv.log_tail()));
        assert_eq!(out.mechanism, "DIGEST-MD5");
        assert_eq!(out.negotiated, "negotiated: qop=auth cipher=none");
        assert!(
            out.offered.contains(&"DIGEST-MD5".to_string()),
            "{:?}",
            out.offered
        );
        assert_eq!(out.to, format!("{user}@localhost"));
        assert!(
            out.queued.starts_with("250 2.0.0 Ok: queued as "),
            "{}",
            out.queued
        );
        let queue_id = out.queued.rsplit(' ').next().unwrap().to_string();
        // The message is in the recipient's maildir, received over an
        // authenticated session (ESMTPA) as this user.
        let msg = delivered(
            &srv.dir.join("mail").join(user),
            &format!("Message-ID: <{}>", out.message_id),
        )
        .unwrap_or_else(|| {
            panic!(
                "message {} not delivered\n{}",
                out.message_id,
                srv.log_tail()
            )
        });
        assert!(
            msg.contains(&format!("(Authenticated sender: {user}@realm)")),
            "{msg}"
        );
        assert!(msg.contains(&format!("with ESMTPA id {queue_id}")), "{msg}");
        assert!(
            msg.contains("Sent by the sasl-digest-md5 SMTP example after AUTH DIGEST-MD5."),
            "{msg}"
        );
        // Postfix's own log names the mechanism.
        assert!(
            postfix_logged(&srv, &format!(
                "{queue_id}: client=localhost[127.0.0.1], sasl_method=DIGEST-MD5, sasl_username={user}@realm"
            )),
            "{}",
            srv.log_tail()
        );
    }
}

#[tokio::test]
async fn smtp_postfix_wrong_password_and_no_layer() {
    let srv = Server::start(Kind::Postfix);
    let mut a = args(&srv, "alice", "wrong");
    a.realm = Some("realm".into());
    let err = clients::smtp::run(&a).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "AUTH DIGEST-MD5 failed: 535 5.7.8 Error: authentication failed: authentication failure"
    );
    assert!(
        postfix_logged(&srv, "SASL DIGEST-MD5 authentication failed"),
        "{}",
        srv.log_tail()
    );
    // Nothing was delivered for alice.
    let new = srv.dir.join("mail/alice/new");
    assert_eq!(
        std::fs::read_dir(&new).map(|d| d.count()).unwrap_or(0),
        0,
        "{}",
        new.display()
    );
    // Postfix offers no security layer (qop auth only): requiring one is refused
    // before anything is sent.
    for qop in ["auth-int", "auth-conf"] {
        let mut a = args(&srv, "alice", "secret");
        a.qop = qop.into();
        let err = clients::smtp::run(&a).await.unwrap_err().to_string();
        assert!(err.contains("downgrade refused"), "{qop}: {err}");
    }
}

/// The examples' wire code on hostile input: typed one-line errors, no panic.
#[tokio::test]
async fn zookeeper_and_smtp_codecs_refuse_bad_input() {
    use clients::zookeeper::{Conn as ZkConn, In};
    use tokio::io::AsyncWriteExt;

    // Jute: truncation and negative lengths.
    assert!(In::new(&[0, 0], "x")
        .int()
        .unwrap_err()
        .0
        .contains("truncated"));
    assert!(In::new(&[0xff, 0xff, 0xff, 0xfe], "x")
        .buffer()
        .unwrap_err()
        .0
        .contains("bad length -2"));
    assert_eq!(In::new(&[0xff; 4], "x").buffer().unwrap(), None);
    assert!(In::new(&[0, 0, 0, 9, b'a'], "x").buffer().is_err());

    // ZooKeeper frames: a short ConnectResponse, an oversized frame, a closed peer.
    let t = Duration::from_secs(5);
    let cases: [(&[u8], &str); 3] = [
        (
            &[0, 0, 0, 4, 0, 0, 0, 0],
            "truncated ZooKeeper ConnectResponse",
        ),
        (&[0xff, 0xff, 0xff, 0xff], "exceeds"),
        (
            &[],
            "connection closed by the server while waiting for ConnectResponse",
        ),
    ];
    for (reply, want) in cases {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        server.write_all(reply).await.unwrap();
        server.shutdown().await.unwrap(); // EOF after the reply; our request still fits
        let err = ZkConn::handshake(client, t).await.err().unwrap().0;
        drop(server);
        assert!(err.contains(want), "{want}: {err}");
        assert!(!err.contains('\n'));
    }
    assert!(clients::zookeeper::describe(-9999).ends_with("unknown error"));

    // SMTP replies: malformed codes, mixed codes, overlong lines, early close.
    let long = format!("250 {}\r\n", "x".repeat(70_000));
    let cases: [(&[u8], &str); 5] = [
        (b"25\r\n", "malformed SMTP reply line"),
        (b"2500 x\r\n", "malformed SMTP reply line"),
        (b"250-a\r\n251 b\r\n", "mixes codes"),
        (long.as_bytes(), "longer than"),
        (b"250-a\r\n", "connection closed by the server"),
    ];
    for (reply, want) in cases {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        server.write_all(reply).await.unwrap();
        drop(server);
        let mut conn = clients::smtp::Conn::new(client, t);
        let err = conn.reply("testing").await.unwrap_err().0;
        assert!(err.contains(want), "{want}: {err}");
    }
    // EHLO AUTH capability in both forms, and non-ASCII keywords.
    let ehlo = clients::smtp::Reply {
        code: 250,
        lines: vec![
            "localhost".into(),
            "AUTH digest-md5 PLAIN".into(),
            "AUTH=LOGIN DIGEST-MD5".into(),
            "ééé x".into(),
            "AUTH=".into(),
        ],
    };
    assert_eq!(
        clients::smtp::auth_mechanisms(&ehlo),
        ["DIGEST-MD5", "PLAIN", "LOGIN"]
    );
}
