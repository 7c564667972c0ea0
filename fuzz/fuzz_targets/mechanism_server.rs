//! The rsasl server (`DigestServer` through `rsasl::prelude::Session`) driven by a
//! hostile client: arbitrary responses (the first one may be a client-first
//! reauthentication), then, once established with a security layer, arbitrary bytes
//! for `Session::decode`.
//!
//! Input: one policy byte, then up to three NUL-separated tokens (an empty token
//! stands for `step(None)`), then after a third NUL the security-layer data (it may
//! contain NULs), which `drive_decode` interprets. Policy bits 0-2 pick the qops
//! offered, bit 3 the ciphers, bit 4 any-host, bit 5 "client-first" (no challenge
//! before the first token), bit 6 maxbuf 17, bit 7 "fixed mode": every token that
//! parses is re-emitted with the nonce the server issued (client-first: the nonce of
//! an earlier authentication in the shared reauthentication cache, by `alice` in
//! realm `example.com`, nc 1) and the correct `response=` value, so that the fuzzer
//! reaches the accepted paths and the security layer.
//!
//! Oracles: never a panic; never accepts a wrong password proof, an unknown user, a
//! qop or cipher it did not offer, a digest-uri for another service, a nonce it did
//! not issue, or a replayed nc; the rspauth is the correct one; validation runs on
//! success only; never finished after an error; after success, `MechanismDone`;
//! `decode` as in the client target.
#![no_main]

#[path = "../../tests/common/rsasl.rs"]
mod sessions;

use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rsasl::prelude::*;
use sasl_digest_md5::wire::Challenge;
use sasl_digest_md5::digest::digest_eq;
use sasl_digest_md5::layer;
use sasl_digest_md5::mechanism::ServerPolicy;
use sasl_digest_md5::wire::{parse_rspauth, Response};
use sasl_digest_md5::{
    Cipher, CipherSet, ClientContext, Qop, QopSet, ReauthCache, ServerConfig, ServerContext, Side,
    Step, StoredSecret,
};
use sasl_digest_md5_fuzz::{
    client_config, digest_for, drive_decode, session_key_for, tokens_then_rest, PASSWORD,
};
use sessions::{server_session, ServerCb};

const CACHED_NONCE: &[u8] = b"fuzz-nonce";

/// An earlier authentication (sans-IO) that leaves `CACHED_NONCE` with nc 1 in `cache`.
fn earlier_authentication(cache: &Arc<ReauthCache>) {
    let cfg = ServerConfig::new("ldap", "ldap.example.com")
        .realms(["example.com"])
        .reauth_cache(cache.clone())
        .danger_fixed_nonce(CACHED_NONCE);
    let store = |_: &str, _: &str| Some(StoredSecret::password(PASSWORD));
    let mut server = ServerContext::new(cfg, store).unwrap();
    let mut client = ClientContext::new(client_config(0).0).unwrap();
    let Ok(Step::Continue(ch)) = server.step(None) else {
        panic!("no challenge");
    };
    let Ok(Step::Continue(resp)) = client.step(Some(&ch)) else {
        panic!("no response");
    };
    assert!(matches!(
        server.step(Some(&resp)),
        Ok(Step::Complete(Some(_)))
    ));
}

/// Re-emits a parseable response with `nonce` and the correct proof.
fn fix(tok: &[u8], nonce: &[u8]) -> Vec<u8> {
    match Response::parse(tok) {
        Ok(mut r) => {
            r.nonce = nonce.to_vec();
            r.response = digest_for(&r, false);
            r.to_bytes()
        }
        Err(_) => tok.to_vec(),
    }
}

#[derive(Debug, PartialEq)]
enum Expect {
    /// Nothing happened yet (client-first): a challenge or a reauthentication.
    Initial,
    /// A challenge with this nonce was sent: a first authentication (nc 1).
    First(Vec<u8>),
    Finished,
    Failed,
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let fixed = sel & 0x80 != 0;
    let client_first = sel & 0x20 != 0;
    let toks = tokens_then_rest(rest, 4);
    let layer_data: &[u8] = toks.get(3).copied().unwrap_or_default();
    let mut qops = QopSet::EMPTY;
    for (bit, q) in [(1, Qop::Auth), (2, Qop::AuthInt), (4, Qop::AuthConf)] {
        if sel & bit != 0 {
            qops.insert(q);
        }
    }
    if qops.is_empty() {
        qops = QopSet::only(Qop::Auth);
    }
    let ciphers = if sel & 8 != 0 {
        CipherSet::ALL
    } else {
        CipherSet::only(Cipher::Rc4)
    };
    let cache = ReauthCache::new(8, Duration::from_secs(600));
    if client_first && fixed {
        earlier_authentication(&cache);
    }
    let policy = ServerPolicy {
        realms: vec!["example.com".into()],
        qops,
        ciphers,
        maxbuf: if sel & 0x40 != 0 { 17 } else { 65536 },
        any_host: sel & 0x10 != 0,
        reauth_cache: Some(cache),
        ..ServerPolicy::default()
    };
    // Every user but `nobody` has the password.
    let cb = ServerCb::new(policy, |user| (user != "nobody").then_some(PASSWORD));
    let outcome = cb.outcome.clone();
    let mut server = server_session(cb);
    assert!(server.are_we_first());

    let mut expect = Expect::Initial;
    if !client_first {
        let mut ch = Vec::new();
        assert_eq!(server.step(None, &mut ch).unwrap(), State::Running);
        let ch = Challenge::parse(&ch).expect("own challenge parses");
        assert!(!ch.stale);
        expect = Expect::First(ch.nonce);
        assert!(matches!(
            server.step(None, &mut Vec::new()),
            Err(SessionError::InputDataRequired)
        ));
    }
    let mut accepted = None;
    for &t in toks.iter().take(3) {
        let input = match (&expect, t, fixed) {
            (_, b"", _) => None,
            (Expect::First(n), t, true) => Some(fix(t, n)),
            (Expect::Initial, t, true) => Some(fix(t, CACHED_NONCE)),
            (_, t, _) => Some(t.to_vec()),
        };
        let mut out = Vec::new();
        let res = server.step(input.as_deref(), &mut out);
        match (res, &expect) {
            (Err(e), Expect::Finished) => {
                assert!(matches!(e, SessionError::MechanismDone), "{e:?}");
            }
            (Ok(s), Expect::Finished | Expect::Failed) => {
                panic!("{s:?} after {expect:?}")
            }
            (Ok(State::Finished(MessageSent::Yes)), _) => {
                let tok = input.expect("finished on a token");
                let r = Response::parse(&tok).expect("accepted response parses");
                assert!(
                    digest_eq(&digest_for(&r, false), &r.response),
                    "accepted a wrong password proof"
                );
                assert!(qops.contains(r.qop), "accepted a qop not offered");
                if let Some(c) = r.cipher {
                    assert!(ciphers.contains(c), "accepted a cipher not offered");
                }
                assert!(r.digest_uri.to_ascii_lowercase().starts_with("ldap/"));
                assert_ne!(r.username, "nobody");
                let got = parse_rspauth(&out).expect("own rspauth parses");
                assert_eq!(got, digest_for(&r, true));
                match &expect {
                    Expect::First(n) => assert_eq!((&r.nonce, r.nc), (n, 1)),
                    // A reauthentication: the next nc on the cached nonce, same user.
                    _ => {
                        assert!(fixed);
                        assert_eq!((&r.nonce[..], r.nc), (CACHED_NONCE, 2));
                        assert_eq!(
                            (&r.username[..], r.realm.as_deref()),
                            ("alice", Some("example.com"))
                        );
                    }
                }
                let validated = server.validation().map(|(user, _)| user);
                assert_eq!(validated.as_deref(), Some(&r.username[..]));
                assert_eq!(server.has_security_layer(), r.qop.has_layer());
                accepted = Some(r);
                expect = Expect::Finished;
            }
            (Ok(State::Running), Expect::Initial) => {
                // A challenge: asked for (step(None)) or refusing a reauthentication.
                let ch = Challenge::parse(&out).expect("own challenge parses");
                assert_eq!(ch.stale, input.is_some());
                expect = Expect::First(ch.nonce);
            }
            (Ok(s), _) => panic!("{s:?} in {expect:?}"),
            (Err(SessionError::InputDataRequired), Expect::First(_)) if input.is_none() => {}
            (Err(_), _) => {
                assert!(server.validation().is_none());
                expect = Expect::Failed;
            }
        }
    }

    let o = outcome.lock().unwrap().clone();
    assert_eq!(accepted.is_some(), o.is_some());
    let (Some(r), Some(o)) = (accepted, o) else {
        assert!(!server.has_security_layer());
        return;
    };
    let n = &o.negotiated;
    assert_eq!(
        (n.qop, n.cipher, n.peer_maxbuf),
        (r.qop, r.cipher, r.maxbuf)
    );
    if !n.qop.has_layer() {
        assert!(matches!(
            server.decode(layer_data, &mut Vec::new()),
            Err(SessionError::NoSecurityLayer)
        ));
        return;
    }
    // The client's half, from the same keys.
    let Ok((mut peer, _)) = layer::establish(
        &session_key_for(&r),
        n.qop,
        n.cipher,
        Side::Client,
        n.own_maxbuf,
        n.peer_maxbuf,
    ) else {
        // A block cipher chosen by a client that cannot send to our maxbuf 17.
        assert!(n.cipher.is_some_and(Cipher::is_block) && n.own_maxbuf < 22);
        return;
    };
    drive_decode(
        &mut |i: &[u8], o: &mut Vec<u8>| server.decode(i, o),
        &mut peer,
        n.own_maxbuf,
        layer_data,
    );
});
