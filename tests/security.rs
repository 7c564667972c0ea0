//! Regression tests for the holes an attacker's review found (issue 10): each test
//! tries to break a promise of the README and asserts the typed refusal.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use sasl_digest_md5::wire::Challenge;
use sasl_digest_md5::wire::Response;
use sasl_digest_md5::{
    Cipher, CipherSet, ClientConfig, ClientContext, Credential, DirectiveName, Downgrade, Error,
    ParseError, Qop, QopSet, ReauthCache, Requirements, ServerConfig, ServerContext, Step,
    StoredSecret, Target,
};

fn store(user: &str, _realm: &str) -> Option<StoredSecret> {
    (user == "alice").then(|| StoredSecret::password("secret"))
}

/// A credential store as slow as a remote directory: the window in which a replayed
/// reauthentication used to slip through.
fn slow_store(user: &str, realm: &str) -> Option<StoredSecret> {
    thread::sleep(Duration::from_millis(200));
    store(user, realm)
}

fn server_all() -> ServerConfig {
    ServerConfig::new("ldap", "ldap.example.com")
        .realms(["example.com"])
        .qops(QopSet::ALL)
        .ciphers(CipherSet::ALL)
}

fn client() -> ClientConfig {
    ClientConfig::new(
        "alice",
        Credential::password("secret"),
        Target::new("ldap", "ldap.example.com").unwrap(),
    )
}

fn cont(s: Step) -> Vec<u8> {
    match s {
        Step::Continue(t) => t,
        other => panic!("expected Continue, got {other:?}"),
    }
}

fn run(c: ClientConfig, s: ServerConfig) -> (ClientContext, ServerContext) {
    let mut client = ClientContext::new(c).unwrap();
    let mut server = ServerContext::new(s, store).unwrap();
    let challenge = cont(server.step(None).unwrap());
    let response = cont(client.step(Some(&challenge)).unwrap());
    let Step::Complete(Some(rspauth)) = server.step(Some(&response)).unwrap() else {
        panic!("server did not complete")
    };
    assert_eq!(client.step(Some(&rspauth)).unwrap(), Step::Complete(None));
    (client, server)
}

fn is_stale_challenge(step: &Step) -> bool {
    matches!(step, Step::Continue(t) if Challenge::parse(t).map(|c| c.stale).unwrap_or(false))
}

fn challenge_with(directives: &str) -> Vec<u8> {
    format!("realm=\"example.com\",nonce=\"n0nce\",charset=utf-8,algorithm=md5-sess{directives}")
        .into_bytes()
}

// ---------------------------------------------------------------------------------
// 1. Reauthentication replay race
// ---------------------------------------------------------------------------------

#[test]
fn reauth_replay_race_same_response_on_many_connections_accepted_once() {
    const N: usize = 8;
    let cache = ReauthCache::new(16, Duration::from_secs(60));
    let cfg = || server_all().reauth_cache(Arc::clone(&cache));
    let (mut c, _s) = run(client(), cfg());
    // The victim's nc=2 response, captured by an eavesdropper and sent on N
    // connections at the same moment, each to a server with a slow directory.
    let reauth = cont(c.step(None).unwrap());
    let barrier = Arc::new(Barrier::new(N));
    let handles: Vec<_> = (0..N)
        .map(|_| {
            let (cfg, reauth, barrier) = (cfg(), reauth.clone(), Arc::clone(&barrier));
            thread::spawn(move || {
                let mut s = ServerContext::new(cfg, slow_store).unwrap();
                barrier.wait();
                s.step(Some(&reauth))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let accepted = results
        .iter()
        .filter(|r| matches!(r, Ok(Step::Complete(Some(_)))))
        .count();
    let stale = results
        .iter()
        .filter(|r| matches!(r, Ok(s) if is_stale_challenge(s)))
        .count();
    assert_eq!(accepted, 1, "{results:?}");
    assert_eq!(stale, N - 1, "{results:?}");
}

#[test]
fn reauth_forged_response_does_not_lock_out_the_genuine_client() {
    let cache = ReauthCache::new(16, Duration::from_secs(60));
    let cfg = || server_all().reauth_cache(Arc::clone(&cache));
    let (mut c, _s) = run(client(), cfg());
    let genuine = cont(c.step(None).unwrap());
    // An attacker who knows the nonce but not the password sends nc=2 first.
    let mut forged = Response::parse(&genuine).unwrap();
    forged.response[0] = if forged.response[0] == b'0' {
        b'1'
    } else {
        b'0'
    };
    let mut s = ServerContext::new(cfg(), store).unwrap();
    assert!(matches!(
        s.step(Some(&forged.to_bytes())),
        Err(Error::LogonDenied)
    ));
    // The reservation was released: the genuine nc=2 still works, once.
    let mut s = ServerContext::new(cfg(), store).unwrap();
    let Step::Complete(Some(rspauth)) = s.step(Some(&genuine)).unwrap() else {
        panic!("genuine reauthentication refused")
    };
    assert_eq!(c.step(Some(&rspauth)).unwrap(), Step::Complete(None));
    let mut s = ServerContext::new(cfg(), store).unwrap();
    assert!(is_stale_challenge(&s.step(Some(&genuine)).unwrap()));
}

// ---------------------------------------------------------------------------------
// 2. Weak ciphers by default, unauthenticated cipher choice
// ---------------------------------------------------------------------------------

#[test]
fn weak_cipher_offer_refused_by_default_when_confidentiality_required() {
    let mut c = ClientContext::new(client().requirements(Requirements::CONFIDENTIALITY)).unwrap();
    let e = c
        .step(Some(&challenge_with(
            ",qop=\"auth-conf\",cipher=\"rc4-40\"",
        )))
        .unwrap_err();
    assert!(
        matches!(
            &e,
            Error::DowngradeRefused(Downgrade::NoAcceptableCipher { floor: 112, offered, .. })
                if *offered == CipherSet::only(Cipher::Rc4_40)
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains("server offered rc4-40"), "{msg}");
    assert!(msg.contains("lower min_cipher_strength to 40"), "{msg}");
    // The same for every cipher below 112 bits, and for the client that merely allows
    // auth-conf (max_qop) without requiring it: it falls back to the next qop.
    for weak in ["rc4-56", "des", "rc4-40,rc4-56,des"] {
        let mut c =
            ClientContext::new(client().requirements(Requirements::CONFIDENTIALITY)).unwrap();
        let offer = format!(",qop=\"auth-conf\",cipher=\"{weak}\"");
        assert!(matches!(
            c.step(Some(&challenge_with(&offer))),
            Err(Error::DowngradeRefused(
                Downgrade::NoAcceptableCipher { .. }
            ))
        ));
    }
    let mut c = ClientContext::new(client().max_qop(Qop::AuthConf)).unwrap();
    let resp = cont(
        c.step(Some(&challenge_with(
            ",qop=\"auth,auth-conf\",cipher=\"rc4-40\"",
        )))
        .unwrap(),
    );
    let r = Response::parse(&resp).unwrap();
    assert_eq!((r.qop, r.cipher), (Qop::Auth, None));
}

#[test]
fn weak_cipher_accepted_only_when_named_or_floor_lowered() {
    let offer = challenge_with(",qop=\"auth-conf\",cipher=\"rc4-40,des\"");
    let chosen = |cfg: ClientConfig| {
        let mut c = ClientContext::new(cfg.requirements(Requirements::CONFIDENTIALITY)).unwrap();
        Response::parse(&cont(c.step(Some(&offer)).unwrap()))
            .unwrap()
            .cipher
    };
    assert_eq!(
        chosen(client().ciphers(&[Cipher::Rc4_40])),
        Some(Cipher::Rc4_40)
    );
    assert_eq!(chosen(client().min_cipher_strength(56)), Some(Cipher::Des));
    assert_eq!(chosen(client().min_cipher_strength(40)), Some(Cipher::Des));
    // A floor above the named cipher still wins.
    let mut c = ClientContext::new(
        client()
            .requirements(Requirements::CONFIDENTIALITY)
            .ciphers(&[Cipher::Rc4_40])
            .min_cipher_strength(56),
    )
    .unwrap();
    assert!(matches!(
        c.step(Some(&offer)),
        Err(Error::DowngradeRefused(Downgrade::NoAcceptableCipher {
            floor: 56,
            ..
        }))
    ));
}

#[test]
fn server_default_offers_only_rc4_and_3des() {
    let mut s = ServerContext::new(
        ServerConfig::new("ldap", "ldap.example.com").qops(QopSet::ALL),
        store,
    )
    .unwrap();
    let c = Challenge::parse(&cont(s.step(None).unwrap())).unwrap();
    assert_eq!(c.ciphers, CipherSet::STRONG);
    assert!(c.ciphers.contains(Cipher::Rc4) && c.ciphers.contains(Cipher::TripleDes));
    assert_eq!(c.ciphers.iter().count(), 2);
}

/// A man in the middle rewrites the client's `cipher=rc4` to `cipher=rc4-40` (the
/// cipher is not covered by the digest). The default server never seals with it.
#[test]
fn mitm_rewrites_cipher_to_rc4_40_refused_by_the_default_server() {
    let server_cfg = || {
        ServerConfig::new("ldap", "ldap.example.com")
            .realms(["example.com"])
            .qops(QopSet::ALL)
    };
    let mut c = ClientContext::new(client().requirements(Requirements::CONFIDENTIALITY)).unwrap();
    let mut s = ServerContext::new(server_cfg(), store).unwrap();
    let challenge = cont(s.step(None).unwrap());
    let resp = cont(c.step(Some(&challenge)).unwrap());
    let rewritten = String::from_utf8(resp)
        .unwrap()
        .replace("cipher=rc4", "cipher=rc4-40");
    assert!(rewritten.contains("cipher=rc4-40"));
    assert!(matches!(
        s.step(Some(rewritten.as_bytes())),
        Err(Error::DowngradeRefused(Downgrade::CipherNotOffered(
            Cipher::Rc4_40
        )))
    ));
    // The server-side floor does the same for a server that lists every cipher.
    let mut c = ClientContext::new(client().requirements(Requirements::CONFIDENTIALITY)).unwrap();
    let mut s = ServerContext::new(
        server_cfg()
            .ciphers(CipherSet::ALL)
            .min_cipher_strength(112),
        store,
    )
    .unwrap();
    let challenge = cont(s.step(None).unwrap());
    assert_eq!(
        Challenge::parse(&challenge).unwrap().ciphers,
        CipherSet::STRONG
    );
    let resp = cont(c.step(Some(&challenge)).unwrap());
    let rewritten = String::from_utf8(resp)
        .unwrap()
        .replace("cipher=rc4", "cipher=des");
    assert!(matches!(
        s.step(Some(rewritten.as_bytes())),
        Err(Error::DowngradeRefused(Downgrade::CipherNotOffered(
            Cipher::Des
        )))
    ));
}

// ---------------------------------------------------------------------------------
// 3. Resume under a stricter policy
// ---------------------------------------------------------------------------------

#[test]
fn resume_of_an_auth_ticket_under_confidentiality_policy_refused() {
    let (c, _s) = run(client(), server_all());
    let ticket = c.reauth_ticket().unwrap();
    let strict = client()
        .requirements(Requirements::CONFIDENTIALITY)
        .min_cipher_strength(128);
    let e = ClientContext::resume(strict, ticket).unwrap_err();
    assert!(
        matches!(
            e,
            Error::DowngradeRefused(Downgrade::TicketBelowPolicy {
                qop: Qop::Auth,
                cipher: None
            })
        ),
        "{e:?}"
    );
}

#[test]
fn resume_of_a_weak_cipher_ticket_under_a_higher_floor_refused() {
    let weak = client()
        .requirements(Requirements::CONFIDENTIALITY)
        .ciphers(&[Cipher::Rc4_40]);
    let (c, _s) = run(weak, server_all());
    assert_eq!(c.negotiated().unwrap().cipher, Some(Cipher::Rc4_40));
    let ticket = c.reauth_ticket().unwrap();
    for cfg in [
        // The default floor (112) applies again.
        client().requirements(Requirements::CONFIDENTIALITY),
        client()
            .requirements(Requirements::CONFIDENTIALITY)
            .ciphers(&[Cipher::Rc4]),
        // Policy that no longer allows a layer at all.
        client().max_qop(Qop::AuthInt),
    ] {
        assert!(matches!(
            ClientContext::resume(cfg, ticket.clone()),
            Err(Error::DowngradeRefused(Downgrade::TicketBelowPolicy { .. }))
        ));
    }
    // The policy the ticket was made under still resumes.
    let same = client()
        .requirements(Requirements::CONFIDENTIALITY)
        .ciphers(&[Cipher::Rc4_40]);
    assert!(ClientContext::resume(same, ticket).is_ok());
}

#[test]
fn resume_of_a_des_ticket_with_our_maxbuf_too_small_refused() {
    let des = client()
        .requirements(Requirements::CONFIDENTIALITY)
        .ciphers(&[Cipher::Des]);
    let (c, _s) = run(des.clone(), server_all());
    let ticket = c.reauth_ticket().unwrap();
    assert!(matches!(
        ClientContext::resume(des.maxbuf(21), ticket),
        Err(Error::DowngradeRefused(Downgrade::TicketBelowPolicy {
            cipher: Some(Cipher::Des),
            ..
        }))
    ));
}

// ---------------------------------------------------------------------------------
// 5. Every cnonce used with a nonce is remembered
// ---------------------------------------------------------------------------------

#[test]
fn repeated_cnonce_a_b_a_under_a_layer_refused() {
    let cache = ReauthCache::new(16, Duration::from_secs(60));
    let cfg = || server_all().reauth_cache(Arc::clone(&cache));
    let with = |cnonce: &str| {
        client()
            .requirements(Requirements::INTEGRITY)
            .danger_fixed_cnonce(cnonce.to_owned())
    };
    let (c, _s) = run(with("cnonce-A"), cfg());
    // nc=2 with cnonce B: accepted.
    let (mut c2, tok) =
        ClientContext::resume(with("cnonce-B"), c.reauth_ticket().unwrap()).unwrap();
    let mut s2 = ServerContext::new(cfg(), store).unwrap();
    let Step::Complete(Some(rsp)) = s2.step(Some(&tok)).unwrap() else {
        panic!("nc=2 with a fresh cnonce refused")
    };
    c2.step(Some(&rsp)).unwrap();
    // nc=3 with cnonce A again: would recreate session 1's keys. Refused with stale.
    let (_c3, tok) = ClientContext::resume(with("cnonce-A"), c2.reauth_ticket().unwrap()).unwrap();
    assert_eq!(Response::parse(&tok).unwrap().nc, 3);
    let mut s3 = ServerContext::new(cfg(), store).unwrap();
    assert!(is_stale_challenge(&s3.step(Some(&tok)).unwrap()));
    // nc=3 with a fresh cnonce C: accepted.
    let (_c3, tok) = ClientContext::resume(with("cnonce-C"), c2.reauth_ticket().unwrap()).unwrap();
    let mut s3 = ServerContext::new(cfg(), store).unwrap();
    assert!(matches!(
        s3.step(Some(&tok)).unwrap(),
        Step::Complete(Some(_))
    ));
}

/// The cipher is not covered by the digest: a man in the middle rewriting `cipher=rc4`
/// to another offered cipher in a reauthentication gets a full authentication, not a
/// session under the weaker cipher.
#[test]
fn reauth_with_the_cipher_rewritten_is_refused() {
    let cache = ReauthCache::new(16, Duration::from_secs(60));
    let cfg = || server_all().reauth_cache(Arc::clone(&cache));
    let (mut c, _s) = run(client().requirements(Requirements::CONFIDENTIALITY), cfg());
    assert_eq!(c.negotiated().unwrap().cipher, Some(Cipher::Rc4));
    let reauth = String::from_utf8(cont(c.step(None).unwrap())).unwrap();
    let rewritten = reauth.replace("cipher=rc4", "cipher=des");
    assert_ne!(reauth, rewritten);
    let mut s = ServerContext::new(cfg(), store).unwrap();
    assert!(is_stale_challenge(
        &s.step(Some(rewritten.as_bytes())).unwrap()
    ));
    // The genuine one is still accepted.
    let mut s = ServerContext::new(cfg(), store).unwrap();
    assert!(matches!(
        s.step(Some(reauth.as_bytes())).unwrap(),
        Step::Complete(Some(_))
    ));
}

// ---------------------------------------------------------------------------------
// 6. Realm policy
// ---------------------------------------------------------------------------------

#[test]
fn realm_not_offered_refused() {
    let mut c = ClientContext::new(client().realm("evil.org")).unwrap();
    let mut s = ServerContext::new(server_all(), store).unwrap();
    let resp = cont(c.step(Some(&cont(s.step(None).unwrap()))).unwrap());
    assert_eq!(
        Response::parse(&resp).unwrap().realm.as_deref(),
        Some("evil.org")
    );
    assert!(matches!(
        s.step(Some(&resp)),
        Err(Error::Malformed(ParseError::InvalidValue {
            directive: DirectiveName::Realm,
            ..
        }))
    ));
}

#[test]
fn realm_not_offered_accepted_with_opt_in_and_the_store_sees_it() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let recording = move |user: &str, realm: &str| {
        log.lock().unwrap().push(realm.to_owned());
        store(user, realm)
    };
    let mut c = ClientContext::new(client().realm("own.default")).unwrap();
    let mut s = ServerContext::new(server_all().accept_any_realm(), recording).unwrap();
    let resp = cont(c.step(Some(&cont(s.step(None).unwrap()))).unwrap());
    assert!(matches!(
        s.step(Some(&resp)).unwrap(),
        Step::Complete(Some(_))
    ));
    assert_eq!(
        s.negotiated().unwrap().realm.as_deref(),
        Some("own.default")
    );
    assert_eq!(*seen.lock().unwrap(), vec!["own.default".to_owned()]);
}

// ---------------------------------------------------------------------------------
// 7. No configuration may panic
// ---------------------------------------------------------------------------------

#[test]
fn reauth_cache_with_duration_max_does_not_panic() {
    for ttl in [Duration::MAX, Duration::from_secs(u64::MAX), Duration::ZERO] {
        let cache = ReauthCache::new(usize::MAX, ttl);
        let cfg = || server_all().reauth_cache(Arc::clone(&cache));
        let (mut c, mut s) = run(client(), cfg());
        let reauth = cont(c.step(None).unwrap());
        let step = s.step(Some(&reauth)).unwrap();
        if ttl.is_zero() {
            // Expired at once: a full authentication instead.
            assert!(is_stale_challenge(&step));
        } else {
            assert!(matches!(step, Step::Complete(Some(_))), "ttl {ttl:?}");
        }
    }
    // Zero capacity: nothing cached, nothing panics.
    let cache = ReauthCache::new(0, Duration::MAX);
    let (mut c, mut s) = run(client(), server_all().reauth_cache(cache));
    assert!(is_stale_challenge(
        &s.step(Some(&cont(c.step(None).unwrap()))).unwrap()
    ));
}

// ---------------------------------------------------------------------------------
// 11. The fixed-nonce hooks are not ordinary API
// ---------------------------------------------------------------------------------

#[test]
fn danger_fixed_nonces_are_behind_a_feature() {
    // The tests enable `danger-fixed-nonces` (dev-dependency on the crate itself);
    // the library's own manifest must not, and both hooks must be gated.
    let root = env!("CARGO_MANIFEST_DIR");
    let manifest = std::fs::read_to_string(format!("{root}/Cargo.toml")).unwrap();
    let default = manifest
        .lines()
        .find(|l| l.starts_with("default ="))
        .expect("a default feature list");
    assert!(!default.contains("danger"), "{default}");
    for (file, hook) in [
        ("src/context/client/config.rs", "pub fn danger_fixed_cnonce"),
        ("src/context/server/config.rs", "pub fn danger_fixed_nonce"),
    ] {
        let src = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        let at = src
            .find(hook)
            .unwrap_or_else(|| panic!("{hook} not in {file}"));
        let before: Vec<&str> = src[..at].lines().rev().take(3).collect();
        assert!(
            before
                .iter()
                .any(|l| l.contains("#[cfg(feature = \"danger-fixed-nonces\")]")),
            "{hook} in {file} is not gated: {before:?}"
        );
    }
}
