//! The server driven by a hostile client: arbitrary responses, first and
//! reauthentication.
//!
//! Input: one policy byte, then tokens separated by NUL bytes. Policy bits 0-2 pick
//! the qops offered, bit 3 the ciphers, bit 4 any-host, bit 5 "the first token is a
//! reauthentication" (client-first), bit 6 maxbuf 17, bit 7 "fixed mode": every
//! token that parses is re-emitted with the correct `response=` value so that the
//! fuzzer reaches the accepted paths. The server's nonce is the one of the first
//! token (when it parses), as a replaying attacker would arrange.
//!
//! Oracles: never a panic; never accepts a wrong password proof, a qop or cipher it
//! did not offer, or a digest-uri for another service; rspauth is the correct one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sasl_digest_md5::wire::Challenge;
use sasl_digest_md5::digest::digest_eq;
use sasl_digest_md5::wire::{parse_rspauth, Response};
use sasl_digest_md5::{
    Cipher, CipherSet, Error, Qop, QopSet, ServerConfig, ServerContext, Step, StoredSecret,
};
use sasl_digest_md5_fuzz::{digest_for, fix_response, tokens, PASSWORD};

fn store(user: &str, _realm: &str) -> Option<StoredSecret> {
    (user != "nobody").then(|| StoredSecret::password(PASSWORD))
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let fixed = sel & 0x80 != 0;
    let toks: Vec<Vec<u8>> = tokens(rest)
        .into_iter()
        .map(|t| {
            if fixed {
                fix_response(t).unwrap_or_else(|| t.to_vec())
            } else {
                t.to_vec()
            }
        })
        .collect();
    // A replaying client's nonce becomes the server's (when it is one a server could
    // issue: non-empty, UTF-8 as the challenge says charset=utf-8, short enough).
    let nonce = Response::parse(&toks[0])
        .ok()
        .map(|r| r.nonce)
        .filter(|n| !n.is_empty() && std::str::from_utf8(n).is_ok() && n.len() < 1024)
        .unwrap_or_else(|| b"fuzz-nonce".to_vec());
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
    let mut config = ServerConfig::new("ldap", "ldap.example.com")
        .realms(["example.com"])
        .qops(qops)
        .ciphers(ciphers)
        .danger_fixed_nonce(nonce.clone());
    if sel & 0x10 != 0 {
        config = config.any_host();
    }
    if sel & 0x40 != 0 {
        config = config.maxbuf(17);
    }
    let mut server = ServerContext::new(config, store).expect("valid config");
    let mut awaiting_first = sel & 0x20 == 0;
    if awaiting_first {
        let Ok(Step::Continue(ch)) = server.step(None) else {
            panic!("no challenge");
        };
        let ch = Challenge::parse(&ch).expect("own challenge parses");
        assert_eq!(ch.nonce, nonce);
        assert!(matches!(server.step(None), Err(Error::TokenRequired)));
    }
    let mut last_nc: Option<u32> = None;
    for tok in &toks {
        let was_established = server.is_established();
        match server.step(Some(tok)) {
            Ok(Step::Complete(Some(rspauth))) => {
                let r = Response::parse(tok).expect("accepted response parses");
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
                let got = parse_rspauth(&rspauth).expect("own rspauth parses");
                assert_eq!(got, digest_for(&r, true));
                if awaiting_first {
                    assert_eq!(r.nc, 1);
                    assert_eq!(r.nonce, nonce);
                } else {
                    // A reauthentication: the next nc on a nonce this server issued.
                    assert_eq!(Some(r.nc), last_nc.and_then(|n| n.checked_add(1)));
                }
                last_nc = Some(r.nc);
                let n = server.negotiated().expect("established");
                assert_eq!(n.qop, r.qop);
                assert_eq!(server.security_layer().is_ok(), r.qop.has_layer());
                assert!(server.security_layer().is_err());
                awaiting_first = false;
            }
            Ok(Step::Continue(ch)) => {
                // A reauthentication refused: a fresh stale challenge.
                assert!(!awaiting_first);
                let ch = Challenge::parse(&ch).expect("own challenge parses");
                assert!(ch.stale);
                awaiting_first = true;
            }
            Ok(Step::Complete(None)) => panic!("the server always sends rspauth"),
            Err(_) => {
                assert!(!server.is_established() || was_established);
                if !server.is_established() {
                    assert!(server.security_layer().is_err());
                    break;
                }
            }
        }
    }
});
