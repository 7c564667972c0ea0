//! Client <-> server exchanges through the sans-IO contexts.

use std::sync::Arc;
use std::time::Duration;

use sasl_digest_md5::wire::Challenge;
use sasl_digest_md5::wire::Response;
use sasl_digest_md5::{
    Cipher, CipherSet, ClientConfig, ClientContext, Credential, Error, Qop, QopSet, ReauthCache,
    Requirements, ServerConfig, ServerContext, SspiStatus, Step, StoredSecret, Target,
};

fn store(user: &str, _realm: &str) -> Option<StoredSecret> {
    match user {
        "alice" => Some(StoredSecret::password("secret")),
        "Jürgen" => Some(StoredSecret::password("pässwörd")),
        "用户" => Some(StoredSecret::password("пароль")),
        _ => None,
    }
}

fn server_all() -> ServerConfig {
    ServerConfig::new("ldap", "ldap.example.com")
        .realms(["example.com", "other.org"])
        .qops(QopSet::ALL)
        .ciphers(CipherSet::ALL)
}

fn client(user: &str, pw: &str) -> ClientConfig {
    ClientConfig::new(
        user,
        Credential::password(pw),
        Target::new("ldap", "ldap.example.com").unwrap(),
    )
}

fn cont(s: Step) -> Vec<u8> {
    match s {
        Step::Continue(t) => t,
        other => panic!("expected Continue, got {other:?}"),
    }
}

/// Runs a full exchange; returns both contexts.
fn run(c: ClientConfig, s: ServerConfig) -> Result<(ClientContext, ServerContext), Error> {
    let mut client = ClientContext::new(c)?;
    let mut server = ServerContext::new(s, store)?;
    let challenge = cont(server.step(None)?);
    let response = cont(client.step(Some(&challenge))?);
    let Step::Complete(Some(rspauth)) = server.step(Some(&response))? else {
        panic!("server did not complete")
    };
    assert_eq!(client.step(Some(&rspauth))?, Step::Complete(None));
    Ok((client, server))
}

#[test]
fn each_qop_round_trips() {
    for (req, max, want) in [
        (Requirements::NONE, Qop::Auth, Qop::Auth),
        (Requirements::INTEGRITY, Qop::AuthInt, Qop::AuthInt),
        (
            Requirements::REPLAY_DETECT | Requirements::SEQUENCE_DETECT,
            Qop::AuthInt,
            Qop::AuthInt,
        ),
        (Requirements::CONFIDENTIALITY, Qop::AuthConf, Qop::AuthConf),
        (Requirements::NONE, Qop::AuthConf, Qop::AuthConf),
    ] {
        let (c, s) = run(
            client("alice", "secret").requirements(req).max_qop(max),
            server_all(),
        )
        .unwrap();
        let (cn, sn) = (c.negotiated().unwrap(), s.negotiated().unwrap());
        assert_eq!(cn.qop, want);
        assert_eq!(sn.qop, want);
        assert_eq!(cn.cipher, sn.cipher);
        assert!(cn.mutual);
        assert_eq!(sn.username, "alice");
        assert_eq!(sn.realm.as_deref(), Some("example.com"));
        if want == Qop::AuthConf {
            assert_eq!(cn.cipher, Some(Cipher::Rc4), "strongest by default");
            assert_eq!(cn.ssf, 128);
        }
    }
}

#[test]
fn every_cipher_negotiates() {
    for cipher in Cipher::ALL {
        let (c, s) = run(
            client("alice", "secret")
                .requirements(Requirements::CONFIDENTIALITY)
                .ciphers(&[cipher]),
            server_all(),
        )
        .unwrap();
        assert_eq!(c.negotiated().unwrap().cipher, Some(cipher));
        assert_eq!(s.negotiated().unwrap().cipher, Some(cipher));
    }
}

#[test]
fn non_ascii_credentials_both_charsets() {
    for utf8 in [true, false] {
        for (u, p) in [("Jürgen", "pässwörd"), ("用户", "пароль")] {
            let (_, s) = run(client(u, p), server_all().utf8(utf8)).unwrap();
            assert_eq!(s.negotiated().unwrap().username, u);
        }
    }
}

#[test]
fn precomputed_secrets_on_both_sides() {
    let secret = sasl_digest_md5::digest::secret("alice", "example.com", "secret");
    let c = ClientConfig::new(
        "alice",
        Credential::Secret(secret.clone()),
        Target::new("ldap", "ldap.example.com").unwrap(),
    );
    let mut client = ClientContext::new(c).unwrap();
    let s2 = secret.clone();
    let mut server = ServerContext::new(server_all(), move |u: &str, r: &str| {
        (u == "alice" && r == "example.com").then(|| StoredSecret::Secret(s2.clone()))
    })
    .unwrap();
    let ch = cont(server.step(None).unwrap());
    let resp = cont(client.step(Some(&ch)).unwrap());
    let Step::Complete(Some(rsp)) = server.step(Some(&resp)).unwrap() else {
        panic!()
    };
    client.step(Some(&rsp)).unwrap();
    assert!(client.is_established());
}

#[test]
fn realm_choice() {
    // Default: first offered.
    let (c, _) = run(client("alice", "secret"), server_all()).unwrap();
    assert_eq!(
        c.negotiated().unwrap().realm.as_deref(),
        Some("example.com")
    );
    // Configured realm wins.
    let (c, s) = run(client("alice", "secret").realm("other.org"), server_all()).unwrap();
    assert_eq!(s.negotiated().unwrap().realm.as_deref(), Some("other.org"));
    assert_eq!(c.negotiated().unwrap().realm.as_deref(), Some("other.org"));
    // Hook sees the offers.
    let (_, s) = run(
        client("alice", "secret").realm_chooser(|offered| {
            assert_eq!(offered, ["example.com", "other.org"]);
            offered.last().cloned()
        }),
        server_all(),
    )
    .unwrap();
    assert_eq!(s.negotiated().unwrap().realm.as_deref(), Some("other.org"));
    // No realm offered, none configured: none sent.
    let (_, s) = run(
        client("alice", "secret"),
        ServerConfig::new("ldap", "ldap.example.com"),
    )
    .unwrap();
    assert_eq!(s.negotiated().unwrap().realm, None);
}

#[test]
fn authzid_is_handed_to_the_server() {
    let (_, s) = run(client("alice", "secret").authzid("bob"), server_all()).unwrap();
    assert_eq!(s.negotiated().unwrap().authzid.as_deref(), Some("bob"));
}

fn challenge_with(qop: &str, cipher: &str) -> Vec<u8> {
    format!(
        r#"nonce="abc",realm="r",qop="{qop}",cipher="{cipher}",charset=utf-8,algorithm=md5-sess"#
    )
    .into_bytes()
}

#[test]
fn downgrades_are_refused_before_sending() {
    let cases: Vec<(ClientConfig, Vec<u8>)> = vec![
        (
            client("alice", "secret").requirements(Requirements::CONFIDENTIALITY),
            challenge_with("auth", ""),
        ),
        (
            client("alice", "secret").requirements(Requirements::CONFIDENTIALITY),
            challenge_with("auth,auth-int", "rc4"),
        ),
        (
            client("alice", "secret").requirements(Requirements::INTEGRITY),
            challenge_with("auth", ""),
        ),
        (
            client("alice", "secret")
                .requirements(Requirements::CONFIDENTIALITY)
                .min_cipher_strength(128),
            challenge_with("auth-conf", "des,rc4-40,rc4-56"),
        ),
        (
            client("alice", "secret")
                .requirements(Requirements::CONFIDENTIALITY)
                .ciphers(&[Cipher::TripleDes]),
            challenge_with("auth-conf", "rc4"),
        ),
    ];
    for (cfg, ch) in cases {
        let mut c = ClientContext::new(cfg).unwrap();
        let e = c.step(Some(&ch)).unwrap_err();
        assert!(matches!(e, Error::DowngradeRefused(_)), "{e:?}");
        assert_eq!(e.status(), SspiStatus::SEC_E_ALGORITHM_MISMATCH);
        assert!(c.step(Some(&ch)).is_err(), "a failed context stays failed");
    }
    // A layer the caller did not ask for is not silently taken.
    let mut c = ClientContext::new(client("alice", "secret")).unwrap();
    assert!(matches!(
        c.step(Some(&challenge_with("auth-int", ""))),
        Err(Error::ServerRequiresLayer { .. })
    ));
    // Integrity falls back from auth-conf (no acceptable cipher) to auth-int when allowed.
    let mut c = ClientContext::new(
        client("alice", "secret")
            .requirements(Requirements::INTEGRITY)
            .max_qop(Qop::AuthConf)
            .min_cipher_strength(128),
    )
    .unwrap();
    let r = Response::parse(&cont(
        c.step(Some(&challenge_with("auth-int,auth-conf", "des")))
            .unwrap(),
    ))
    .unwrap();
    assert_eq!(r.qop, Qop::AuthInt);
}

#[test]
fn wrong_password_and_unknown_user() {
    for (u, p) in [("alice", "wrong"), ("mallory", "secret")] {
        let e = run(client(u, p), server_all()).unwrap_err();
        assert!(matches!(e, Error::LogonDenied), "{e:?}");
        assert_eq!(e.status(), SspiStatus::SEC_E_LOGON_DENIED);
    }
}

#[test]
fn tampered_rspauth() {
    let mut c = ClientContext::new(client("alice", "secret")).unwrap();
    let mut s = ServerContext::new(server_all(), store).unwrap();
    let ch = cont(s.step(None).unwrap());
    let resp = cont(c.step(Some(&ch)).unwrap());
    let Step::Complete(Some(mut rsp)) = s.step(Some(&resp)).unwrap() else {
        panic!()
    };
    let last = rsp.len() - 1;
    rsp[last] = if rsp[last] == b'0' { b'1' } else { b'0' };
    let e = c.step(Some(&rsp)).unwrap_err();
    assert_eq!(e.status(), SspiStatus::SEC_E_WRONG_PRINCIPAL);
    assert!(!c.is_established());
    assert!(c.negotiated().is_none());
}

#[test]
fn missing_and_duplicated_rspauth() {
    for bad in [
        &b""[..],
        b"foo=bar",
        b"rspauth=ea40f60335c427b5527b84dbabcdfffd,rspauth=ea40f60335c427b5527b84dbabcdfffd",
    ] {
        let mut c = ClientContext::new(client("alice", "secret")).unwrap();
        c.step(Some(&challenge_with("auth", ""))).unwrap();
        assert!(matches!(c.step(Some(bad)), Err(Error::MutualAuthFailed(_))));
    }
}

#[test]
fn server_checks_the_response() {
    let mut c = ClientContext::new(client("alice", "secret")).unwrap();
    let ch = cont(
        ServerContext::new(server_all(), store)
            .unwrap()
            .step(None)
            .unwrap(),
    );
    let resp = cont(c.step(Some(&ch)).unwrap());
    // Another server instance has another nonce.
    let mut s2 = ServerContext::new(server_all(), store).unwrap();
    s2.step(None).unwrap();
    assert!(matches!(s2.step(Some(&resp)), Err(Error::LogonDenied)));
    // Wrong service / host.
    for (svc, host, ok) in [
        ("imap", "ldap.example.com", false),
        ("ldap", "other", false),
        ("LDAP", "LDAP.example.com", true),
    ] {
        let mut c = ClientContext::new(ClientConfig::new(
            "alice",
            Credential::password("secret"),
            Target::new(svc, host).unwrap(),
        ))
        .unwrap();
        let mut s = ServerContext::new(server_all(), store).unwrap();
        let ch = cont(s.step(None).unwrap());
        let resp = cont(c.step(Some(&ch)).unwrap());
        let r = s.step(Some(&resp));
        assert_eq!(r.is_ok(), ok, "{svc}/{host}: {r:?}");
        if !ok {
            assert_eq!(r.unwrap_err().status(), SspiStatus::SEC_E_TARGET_UNKNOWN);
        }
    }
    // A qop or cipher that was not offered.
    let mut s = ServerContext::new(server_all().qops(QopSet::only(Qop::Auth)), store).unwrap();
    let ch = String::from_utf8(cont(s.step(None).unwrap())).unwrap();
    let forged = ch.replace("qop=\"auth\"", "qop=\"auth-int\"");
    let mut c = ClientContext::new(client("alice", "secret").requirements(Requirements::INTEGRITY))
        .unwrap();
    let resp = cont(c.step(Some(forged.as_bytes())).unwrap());
    assert!(matches!(
        s.step(Some(&resp)),
        Err(Error::DowngradeRefused(_))
    ));
}

#[test]
fn client_needs_the_challenge_first() {
    let mut c = ClientContext::new(client("alice", "secret")).unwrap();
    assert!(matches!(c.step(None), Err(Error::TokenRequired)));
    // Still usable.
    cont(c.step(Some(&challenge_with("auth", ""))).unwrap());
}

#[test]
fn target_validation() {
    assert!(matches!(
        Target::new("ldap", ""),
        Err(Error::TargetUnknown(_))
    ));
    assert!(Target::new("ldap", "hôst").is_err());
    assert!(Target::new("ldap", "a b").is_err());
    assert!(Target::new("ldap", "a%2").is_err());
    assert_eq!(Target::new("ldap", "a%20b").unwrap().uri(), "ldap/a%20b");
    assert_eq!(
        Target::parse("xmpp/host/domain").unwrap().serv_name(),
        Some("domain")
    );
    assert_eq!(Target::parse("/default").unwrap().uri(), "/default");
    assert!(Target::parse("nohost").is_err());
}

#[test]
fn reauthentication_on_the_same_context() {
    let (mut c, mut s) = run(client("alice", "secret"), server_all()).unwrap();
    let first = Response::parse(&cont(c.step(None).unwrap())).unwrap();
    assert_eq!(first.nc, 2);
    let Step::Complete(Some(rsp)) = s.step(Some(&first.to_bytes())).unwrap() else {
        panic!("reauth refused")
    };
    assert_eq!(c.step(Some(&rsp)).unwrap(), Step::Complete(None));
    assert_eq!(c.negotiated().unwrap().nc, 2);
    assert_eq!(s.negotiated().unwrap().nc, 2);
    // nc=3 next, with a fresh cnonce each time.
    let third = Response::parse(&cont(c.reauthenticate().unwrap())).unwrap();
    assert_eq!(third.nc, 3);
    assert_ne!(third.cnonce, first.cnonce);
    assert!(matches!(
        s.step(Some(&third.to_bytes())).unwrap(),
        Step::Complete(Some(_))
    ));
}

#[test]
fn reauthentication_on_a_new_connection_with_a_shared_cache() {
    let cache = ReauthCache::new(8, Duration::from_secs(60));
    let cfg = || server_all().reauth_cache(Arc::clone(&cache));
    let (mut c, _s) = run(client("alice", "secret"), cfg()).unwrap();
    let reauth = cont(c.step(None).unwrap());
    let mut s2 = ServerContext::new(cfg(), store).unwrap();
    let Step::Complete(Some(rsp)) = s2.step(Some(&reauth)).unwrap() else {
        panic!()
    };
    c.step(Some(&rsp)).unwrap();
    // Replaying the same reauth token (same nc) gets a stale challenge.
    let mut s3 = ServerContext::new(cfg(), store).unwrap();
    let stale = cont(s3.step(Some(&reauth)).unwrap());
    assert!(Challenge::parse(&stale).unwrap().stale);
}

#[test]
fn stale_path_completes_as_a_fresh_authentication() {
    let (mut c, _) = run(
        client("alice", "secret").requirements(Requirements::INTEGRITY),
        server_all(),
    )
    .unwrap();
    let reauth = cont(c.step(None).unwrap());
    // A server that never saw the nonce answers with stale=true.
    let mut s = ServerContext::new(server_all(), store).unwrap();
    let stale = cont(s.step(Some(&reauth)).unwrap());
    assert!(Challenge::parse(&stale).unwrap().stale);
    let resp = Response::parse(&cont(c.step(Some(&stale)).unwrap())).unwrap();
    assert_eq!(resp.nc, 1);
    let Step::Complete(Some(rsp)) = s.step(Some(&resp.to_bytes())).unwrap() else {
        panic!()
    };
    c.step(Some(&rsp)).unwrap();
    assert_eq!(c.negotiated().unwrap().qop, Qop::AuthInt);
}

#[test]
fn repeated_cnonce_under_a_layer_is_refused_with_stale() {
    // A Cyrus-style client repeats the cnonce on reauthentication.
    let fixed = client("alice", "secret")
        .requirements(Requirements::INTEGRITY)
        .danger_fixed_cnonce("same");
    let (mut c, mut s) = run(fixed, server_all()).unwrap();
    let reauth = cont(c.step(None).unwrap());
    let stale = cont(s.step(Some(&reauth)).unwrap());
    assert!(Challenge::parse(&stale).unwrap().stale);
    // Without a layer, the same is accepted.
    let (mut c, mut s) = run(
        client("alice", "secret").danger_fixed_cnonce("same"),
        server_all(),
    )
    .unwrap();
    let reauth = cont(c.step(None).unwrap());
    assert!(matches!(
        s.step(Some(&reauth)).unwrap(),
        Step::Complete(Some(_))
    ));
}

#[test]
fn nonces_are_random_and_long() {
    let n = |_| {
        Challenge::parse(&cont(
            ServerContext::new(server_all(), store)
                .unwrap()
                .step(None)
                .unwrap(),
        ))
        .unwrap()
        .nonce
    };
    let a: Vec<Vec<u8>> = (0..3).map(n).collect();
    assert!(a[0] != a[1] && a[1] != a[2]);
    assert!(a[0].len() >= 22, "at least 128 bits in base64");
}

#[test]
fn reauthentication_with_a_ticket_on_a_new_client_context() {
    let cache = ReauthCache::new(8, Duration::from_secs(60));
    let cfg = || server_all().reauth_cache(Arc::clone(&cache));
    let (c, _s) = run(client("alice", "secret"), cfg()).unwrap();
    let ticket = c.reauth_ticket().unwrap();
    let (mut c2, tok) = ClientContext::resume(client("alice", "secret"), ticket).unwrap();
    assert_eq!(Response::parse(&tok).unwrap().nc, 2);
    let mut s2 = ServerContext::new(cfg(), store).unwrap();
    let Step::Complete(Some(rsp)) = s2.step(Some(&tok)).unwrap() else {
        panic!()
    };
    c2.step(Some(&rsp)).unwrap();
    assert!(c2.is_established());
    assert_eq!(c2.negotiated().unwrap().nc, 2);
}
