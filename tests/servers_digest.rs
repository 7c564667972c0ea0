//! The example clients with this crate's DIGEST-MD5 mechanism against real servers:
//! OpenLDAP slapd (auth, auth-int, auth-conf with every cipher Cyrus delivers; data
//! crosses the layer both ways: the bind's WhoAmI and a search), Dovecot IMAP and the
//! XMPP servers Prosody and ejabberd (qop auth: they offer no layer). rspauth is found
//! where each protocol puts it (LDAP: final BindResponse; IMAP: `+` continuation;
//! XMPP: `<challenge>`), and Prosody's junk `<success>` data is ignored.

#[path = "../examples/common/mod.rs"]
mod clients;
mod common;

use clients::Args;
use common::servers::{Kind, Server};

fn args(server: &Server, user: &str, password: &str) -> Args {
    Args::for_test(&server.addr(), user, password, "DIGEST-MD5")
}

const ALICE_DN: &str = "dn:uid=alice,ou=people,dc=example,dc=com";

#[tokio::test]
async fn ldap_every_qop_and_cipher_through_the_layer() {
    let srv = Server::start(Kind::Slapd);
    let cases = [
        ("auth", None, "qop=auth cipher=none", "ssf=0"),
        ("auth-int", None, "qop=auth-int cipher=none", "ssf=1"),
        ("auth-conf", None, "qop=auth-conf cipher=rc4", "ssf=128"),
        (
            "auth-conf",
            Some("rc4"),
            "qop=auth-conf cipher=rc4",
            "ssf=128",
        ),
        (
            "auth-conf",
            Some("rc4-56"),
            "qop=auth-conf cipher=rc4-56",
            "ssf=56",
        ),
        (
            "auth-conf",
            Some("rc4-40"),
            "qop=auth-conf cipher=rc4-40",
            "ssf=40",
        ),
        (
            "auth-conf",
            Some("des"),
            "qop=auth-conf cipher=des",
            "ssf=55",
        ),
    ];
    for (qop, cipher, negotiated, ssf) in cases {
        let mut a = args(&srv, "alice", "secret");
        a.realm = Some("realm".into());
        a.qop = qop.into();
        a.cipher = cipher.map(Into::into);
        let out = clients::ldap::run(&a)
            .await
            .unwrap_or_else(|e| panic!("{qop} {cipher:?}: {e}\n{}", srv.log_tail()));
        assert_eq!(out.mechanism, "DIGEST-MD5");
        assert_eq!(out.negotiated, format!("negotiated: {negotiated}"));
        // WhoAmI and the search crossed the layer (both directions) intact.
        assert_eq!(out.whoami, ALICE_DN);
        assert_eq!(out.entries.len(), 1);
        assert!(out.entries[0]
            .1
            .iter()
            .any(|(a, v)| a == "mail" && v == &["alice@example.com"]));
        // slapd saw the layer it reports.
        assert!(
            srv.log_tail()
                .contains(&format!("mech=DIGEST-MD5 bind_{ssf}")),
            "{}",
            srv.log_tail()
        );
    }
}

#[tokio::test]
async fn ldap_3des_is_refused_cleanly_by_debian_cyrus() {
    // Debian 12's Cyrus offers 3des but cannot initialise it (OpenSSL 3 rejects the
    // parity-less DES keys it builds): the bind fails with a clear error, no hang.
    let srv = Server::start(Kind::Slapd);
    let mut a = args(&srv, "alice", "secret");
    a.qop = "auth-conf".into();
    a.cipher = Some("3des".into());
    let err = clients::ldap::run(&a).await.unwrap_err().to_string();
    assert!(err.contains("3des") || err.contains("Other (80)"), "{err}");
}

#[tokio::test]
async fn ldap_downgrade_is_refused_before_sending() {
    // slapd restricted to auth only: a client requiring confidentiality refuses.
    let srv = Server::start_with_env(Kind::Slapd, &[("SASL_SECPROPS", "none,maxssf=0")]);
    let mut a = args(&srv, "alice", "secret");
    a.qop = "auth-conf".into();
    let err = clients::ldap::run(&a).await.unwrap_err().to_string();
    assert!(err.contains("downgrade refused"), "{err}");
    // The same server with a strength floor above what is offered.
    let srv = Server::start_with_env(Kind::Slapd, &[("SASL_SECPROPS", "none,minssf=1,maxssf=56")]);
    let mut a = args(&srv, "alice", "secret");
    a.qop = "auth-conf".into();
    a.cipher = Some("rc4".into());
    let err = clients::ldap::run(&a).await.unwrap_err().to_string();
    assert!(err.contains("downgrade refused"), "{err}");
}

#[tokio::test]
async fn ldap_wrong_password() {
    let srv = Server::start(Kind::Slapd);
    let mut a = args(&srv, "alice", "wrong");
    a.realm = Some("realm".into());
    let err = clients::ldap::run(&a).await.unwrap_err().to_string();
    assert!(
        err.starts_with("SASL bind failed: InvalidCredentials (49)"),
        "{err}"
    );
}

#[tokio::test]
async fn imap_rspauth_in_continuation() {
    let srv = Server::start(Kind::Dovecot);
    for (user, pw) in [
        ("alice", "secret"),
        ("bob", "b0b-p@ss"),
        ("carol", "secret"),
    ] {
        let mut a = args(&srv, user, pw);
        a.realm = Some("realm".into());
        let out = clients::imap::run(&a)
            .await
            .unwrap_or_else(|e| panic!("{user}: {e}\n{}", srv.log_tail()));
        assert_eq!(out.negotiated, "negotiated: qop=auth cipher=none");
        assert!(
            out.list.iter().any(|l| l.ends_with(" INBOX")),
            "{:?}",
            out.list
        );
    }
    let mut a = args(&srv, "carol", "wrong");
    a.realm = Some("realm".into());
    let err = clients::imap::run(&a).await.unwrap_err().to_string();
    assert!(err.contains("AUTHENTICATE DIGEST-MD5 failed"), "{err}");
    // Dovecot offers no layer: requiring one is refused before sending.
    let mut a = args(&srv, "alice", "secret");
    a.qop = "auth-int".into();
    let err = clients::imap::run(&a).await.unwrap_err().to_string();
    assert!(err.contains("downgrade refused"), "{err}");
}

#[tokio::test]
async fn xmpp_prosody_rspauth_in_challenge_and_junk_success() {
    let srv = Server::start(Kind::Prosody);
    let out = clients::xmpp::run(&args(&srv, "alice", "secret"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail()));
    assert_eq!(out.jid, "alice@localhost/sasl-digest-md5");
    assert_eq!(out.negotiated, "negotiated: qop=auth cipher=none");
    // Prosody's <success> carries data although DIGEST-MD5 is finished.
    assert!(out.ignored_success_data > 0);
    let err = clients::xmpp::run(&args(&srv, "alice", "wrong"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not-authorized"), "{err}");
}

#[tokio::test]
async fn xmpp_ejabberd_strict_digest_uri() {
    let srv = Server::start(Kind::Ejabberd);
    // ejabberd's challenge has no realm; rspauth comes in a <challenge>.
    let out = clients::xmpp::run(&args(&srv, "alice", "secret"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail()));
    assert_eq!(out.jid, "alice@localhost/sasl-digest-md5");
    assert_eq!(out.ignored_success_data, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_soak_concurrent_auth_conf_binds() {
    // A few hundred concurrent DIGEST-MD5 auth-conf binds, each with WhoAmI and a
    // search through the layer; all must succeed, bounded in time.
    let srv = Server::start(Kind::Slapd);
    let ciphers = ["rc4", "rc4-56", "rc4-40", "des"];
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let mut a = args(&srv, "alice", "secret");
            a.realm = Some("realm".into());
            a.qop = "auth-conf".into();
            a.cipher = Some(ciphers[i % ciphers.len()].into());
            a.timeout = std::time::Duration::from_secs(60);
            tokio::spawn(async move {
                clients::ldap::run(&a)
                    .await
                    .map(|o| o.whoami)
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let all = async {
        let mut failures = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(w) if w == ALICE_DN => {}
                other => failures.push(format!("{other:?}")),
            }
        }
        failures
    };
    let failures = tokio::time::timeout(std::time::Duration::from_secs(240), all)
        .await
        .expect("LDAP soak timed out");
    assert!(
        failures.is_empty(),
        "{} of 300 failed, first: {:?}\n{}",
        failures.len(),
        failures.first(),
        srv.log_tail()
    );
}
