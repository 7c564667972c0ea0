//! The example clients' protocol plumbing against the real servers, with
//! rsasl's built-in PLAIN (DIGEST-MD5 will use the same code paths; only the
//! mechanism registry changes).
//!
//! Needs slapd, dovecot and prosody installed (see tests/servers/README.md);
//! nothing is skipped when one is missing.

#[path = "../examples/common/mod.rs"]
mod clients;
mod common;

use clients::Args;
use common::servers::{Kind, Server};

fn args(server: &Server, user: &str, password: &str) -> Args {
    Args::for_test(&server.addr(), user, password, "PLAIN")
}

#[tokio::test]
async fn ldap_plain_bind_whoami_search() {
    let srv = Server::start(Kind::Slapd);
    let out = clients::ldap::run(&args(&srv, "alice", "secret"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail()));
    assert_eq!(out.mechanism, "PLAIN");
    assert_eq!(out.negotiated, "negotiated: qop=auth cipher=none");
    assert_eq!(out.whoami, "dn:uid=alice,ou=people,dc=example,dc=com");
    assert_eq!(out.entries.len(), 1);
    let (dn, attrs) = &out.entries[0];
    assert_eq!(dn, "uid=alice,ou=people,dc=example,dc=com");
    assert!(
        attrs
            .iter()
            .any(|(a, v)| a == "mail" && v == &["alice@example.com"]),
        "{attrs:?}"
    );
}

#[tokio::test]
async fn ldap_plain_second_user_and_authzid() {
    let srv = Server::start(Kind::Slapd);
    let out = clients::ldap::run(&args(&srv, "bob", "b0b-p@ss"))
        .await
        .unwrap();
    assert_eq!(out.whoami, "dn:uid=bob,ou=people,dc=example,dc=com");

    // alice may act as herself ...
    let mut a = args(&srv, "alice", "secret");
    a.authzid = Some("dn:uid=alice,ou=people,dc=example,dc=com".into());
    let out = clients::ldap::run(&a).await.unwrap();
    assert_eq!(out.whoami, "dn:uid=alice,ou=people,dc=example,dc=com");
    // ... but not as bob (no authz-policy).
    a.authzid = Some("dn:uid=bob,ou=people,dc=example,dc=com".into());
    let err = clients::ldap::run(&a).await.unwrap_err().to_string();
    assert!(err.contains("InsufficientAccessRights"), "{err}");
}

#[tokio::test]
async fn ldap_plain_wrong_password_fails_clearly() {
    let srv = Server::start(Kind::Slapd);
    let err = clients::ldap::run(&args(&srv, "alice", "wrong"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("SASL bind failed: InvalidCredentials (49)"),
        "{err}"
    );
}

#[tokio::test]
async fn imap_plain_authenticate_list() {
    let srv = Server::start(Kind::Dovecot);
    let out = clients::imap::run(&args(&srv, "alice", "secret"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail()));
    assert_eq!(out.negotiated, "negotiated: qop=auth cipher=none");
    assert!(
        out.capabilities_before
            .iter()
            .any(|c| c == "AUTH=DIGEST-MD5"),
        "{:?}",
        out.capabilities_before
    );
    assert!(out.capabilities_before.iter().any(|c| c == "SASL-IR"));
    assert!(!out.capabilities_after.is_empty());
    assert!(
        out.list.iter().any(|l| l.ends_with(" INBOX")),
        "{:?}",
        out.list
    );
    assert!(
        out.list.iter().any(|l| l.ends_with(" Archive")),
        "{:?}",
        out.list
    );
}

/// Without SASL-IR the client-first mechanism answers the empty `+`.
#[tokio::test]
async fn imap_plain_without_sasl_ir() {
    let srv = Server::start(Kind::Dovecot);
    let a = args(&srv, "bob", "b0b-p@ss");
    let tcp = clients::connect(&a).await.unwrap();
    let mut conn = clients::imap::Conn::new(tcp, a.timeout);
    conn.greeting().await.unwrap();
    let caps = conn.capability().await.unwrap();
    assert!(caps.iter().any(|c| c == "AUTH=PLAIN"));
    let mut client = clients::sasl::start(&a, "imap", &["PLAIN".to_string()]).unwrap();
    conn.authenticate(&mut client, false).await.unwrap();
    let list = conn
        .simple(imap_codec::imap_types::command::CommandBody::list("", "*").unwrap())
        .await
        .unwrap();
    assert!(list.iter().any(|(_, l)| l.ends_with(" INBOX")), "{list:?}");
    conn.logout().await.unwrap();
}

#[tokio::test]
async fn imap_plain_wrong_password_fails_clearly() {
    let srv = Server::start(Kind::Dovecot);
    let err = clients::imap::run(&args(&srv, "alice", "wrong"))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "AUTHENTICATE PLAIN failed: NO Authentication failed.");
}

#[tokio::test]
async fn xmpp_plain_auth_bind() {
    let srv = Server::start(Kind::Prosody);
    let out = clients::xmpp::run(&args(&srv, "alice", "secret"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail()));
    assert_eq!(out.negotiated, "negotiated: qop=auth cipher=none");
    assert_eq!(out.jid, "alice@localhost/sasl-digest-md5");
}

#[tokio::test]
async fn xmpp_plain_wrong_password_fails_clearly() {
    let srv = Server::start(Kind::Prosody);
    let err = clients::xmpp::run(&args(&srv, "alice", "wrong"))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "SASL PLAIN authentication failed: not-authorized: authentication failure"
    );
}

#[tokio::test]
async fn xmpp_plain_ejabberd() {
    let srv = Server::start(Kind::Ejabberd);
    let out = clients::xmpp::run(&args(&srv, "bob", "b0b-p@ss"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail()));
    assert_eq!(out.jid, "bob@localhost/sasl-digest-md5");
    let err = clients::xmpp::run(&args(&srv, "bob", "wrong"))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "SASL PLAIN authentication failed: not-authorized: Invalid username or password"
    );
}

#[tokio::test]
async fn timeout_is_reported() {
    // A listener that accepts but never speaks: the greeting wait times out.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let hold = tokio::spawn(async move {
        let (_s, _) = l.accept().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    });
    let mut a = Args::for_test(&addr, "alice", "secret", "PLAIN");
    a.timeout = std::time::Duration::from_millis(300);
    let err = clients::imap::run(&a).await.unwrap_err().to_string();
    assert!(
        err.starts_with("timeout after 300ms while waiting for the IMAP greeting"),
        "{err}"
    );
    hold.abort();
}

#[test]
fn servers_start_twice_in_parallel() {
    for kind in [Kind::Slapd, Kind::Dovecot, Kind::Prosody, Kind::Ejabberd] {
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(move || Server::start(kind));
            let b = s.spawn(move || Server::start(kind));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_ne!(a.port, b.port);
        for srv in [&a, &b] {
            std::net::TcpStream::connect(srv.addr())
                .unwrap_or_else(|e| panic!("{kind:?} {}: {e}", srv.addr()));
        }
    }
}
