//! The example clients' plumbing for a *server-first* mechanism with mutual
//! authentication, against the real servers, using a minimal test-only
//! DIGEST-MD5 client (tests/common/digest_fixture.rs, qop=auth). It checks
//! that rspauth is found where each protocol puts it (LDAP: final
//! BindResponse; IMAP: `+` continuation; XMPP: `<challenge>`) and that
//! Prosody's junk `<success>` data is ignored. Once the crate's mechanism
//! lands, the same tests run with it by swapping the registry.

mod common;
#[path = "../examples/common/mod.rs"]
mod clients;
#[path = "common/digest_fixture.rs"]
mod digest_fixture;

use clients::Args;
use common::servers::{Kind, Server};
use digest_fixture::FIXTURE_MECHANISMS as MECHS;

fn args(server: &Server, user: &str, password: &str) -> Args {
    Args::for_test(&server.addr(), user, password, "DIGEST-MD5")
}

#[tokio::test]
async fn ldap_digest_rspauth_in_bind_response() {
    let srv = Server::start(Kind::Slapd);
    let mut a = args(&srv, "alice", "secret");
    a.realm = Some("realm".into());
    let out = clients::ldap::run_with(&a, MECHS).await.unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail()));
    assert_eq!(out.mechanism, "DIGEST-MD5");
    assert_eq!(out.whoami, "dn:uid=alice,ou=people,dc=example,dc=com");
    assert!(srv.log_tail().contains("mech=DIGEST-MD5"), "{}", srv.log_tail());

    a.password = "wrong".into();
    let err = clients::ldap::run_with(&a, MECHS).await.unwrap_err().to_string();
    assert!(err.starts_with("SASL bind failed: InvalidCredentials (49)"), "{err}");
}

#[tokio::test]
async fn imap_digest_rspauth_in_continuation() {
    let srv = Server::start(Kind::Dovecot);
    for (user, pw) in [("alice", "secret"), ("bob", "b0b-p@ss"), ("carol", "secret")] {
        let mut a = args(&srv, user, pw);
        a.realm = Some("realm".into());
        let out = clients::imap::run_with(&a, MECHS).await.unwrap_or_else(|e| panic!("{user}: {e}\n{}", srv.log_tail()));
        assert!(out.list.iter().any(|l| l.ends_with(" INBOX")), "{:?}", out.list);
    }
    let mut a = args(&srv, "carol", "wrong");
    a.realm = Some("realm".into());
    let err = clients::imap::run_with(&a, MECHS).await.unwrap_err().to_string();
    assert_eq!(err, "AUTHENTICATE DIGEST-MD5 failed: NO Authentication failed.");
}

#[tokio::test]
async fn xmpp_digest_rspauth_in_challenge_and_junk_success() {
    let srv = Server::start(Kind::Prosody);
    let out = clients::xmpp::run_with(&args(&srv, "alice", "secret"), MECHS)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail()));
    assert_eq!(out.jid, "alice@localhost/sasl-digest-md5");
    // Prosody's <success> carries data although DIGEST-MD5 is finished.
    assert!(out.ignored_success_data > 0);

    let err = clients::xmpp::run_with(&args(&srv, "alice", "wrong"), MECHS).await.unwrap_err().to_string();
    assert_eq!(err, "SASL DIGEST-MD5 authentication failed: not-authorized: authentication failure");
}

#[tokio::test]
async fn xmpp_digest_ejabberd_strict_digest_uri() {
    let srv = Server::start(Kind::Ejabberd);
    // ejabberd's challenge has no realm; rspauth comes in a <challenge>.
    let out = clients::xmpp::run_with(&args(&srv, "alice", "secret"), MECHS)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail()));
    assert_eq!(out.jid, "alice@localhost/sasl-digest-md5");
    assert_eq!(out.ignored_success_data, 0);
}
