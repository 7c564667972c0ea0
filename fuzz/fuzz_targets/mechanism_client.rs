//! The rsasl client (`DigestClient` through `rsasl::prelude::Session`) driven by a
//! hostile server: an arbitrary challenge, then arbitrary tokens (an empty token
//! stands for `step(None)`: the protocol ended), then, once established with a
//! security layer, arbitrary bytes for `Session::decode`.
//!
//! Input: one policy byte (as in the `client` target; bit 7 = fixed mode: a token `!`
//! stands for the correct rspauth), then up to four NUL-separated tokens (challenge
//! and three more), then after a fourth NUL the security-layer data (it may contain
//! NULs), which `drive_decode` interprets.
//!
//! Oracles: never a panic; never a qop or cipher the server did not offer or the
//! policy forbids; never finished without the correct rspauth, nor after an error;
//! `step(None)` after the response is `MutualAuthenticationFailed`; after success,
//! tokens are ignored and `step(None)` is `MechanismDone`; `decode` never accepts a
//! forged or changed frame, asks for more input exactly on a partial frame, and fails
//! for good.
#![no_main]

#[path = "../../tests/common/rsasl.rs"]
mod sessions;

use libfuzzer_sys::fuzz_target;
use rsasl::prelude::*;
use sasl_digest_md5::wire::Challenge;
use sasl_digest_md5::layer;
use sasl_digest_md5::mechanism::ClientPolicy;
use sasl_digest_md5::wire::{parse_rspauth, rspauth_token, Response};
use sasl_digest_md5::{Cipher, Qop, Requirements, Side};
use sasl_digest_md5_fuzz::{digest_for, drive_decode, session_key_for, tokens_then_rest, PASSWORD};
use sessions::{client_session, ClientCb};

/// The policy of `sasl_digest_md5_fuzz::client_config`, as a `ClientPolicy`.
fn client_policy(sel: u8) -> (ClientPolicy, Qop, u32) {
    let requirements = match sel & 3 {
        0 => Requirements::NONE,
        1 => Requirements::INTEGRITY,
        2 => Requirements::CONFIDENTIALITY,
        _ => Requirements::REPLAY_DETECT | Requirements::SEQUENCE_DETECT,
    };
    let floor = [0, 56, 112, 128][((sel >> 3) & 3) as usize];
    let policy = ClientPolicy {
        requirements,
        max_qop: if sel & 4 != 0 {
            Qop::AuthConf
        } else {
            requirements.min_qop()
        },
        ciphers: if sel & 0x20 != 0 {
            Some(vec![Cipher::Des, Cipher::Rc4_40])
        } else {
            Some(Cipher::ALL.to_vec())
        },
        min_cipher_strength: Some(floor),
        maxbuf: if sel & 0x40 != 0 { 17 } else { 65536 },
    };
    (policy, requirements.min_qop(), floor)
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let fixed = sel & 0x80 != 0;
    let toks = tokens_then_rest(rest, 5);
    let layer_data: &[u8] = toks.get(4).copied().unwrap_or_default();
    let (policy, min_qop, floor) = client_policy(sel);
    // The first offered realm (no `pick_realm`).
    let cb = ClientCb {
        password: PASSWORD,
        authzid: (sel & 0x40 != 0).then_some("bob"),
        policy,
        ..ClientCb::default()
    };
    let outcome = cb.outcome.clone();
    let mut client = client_session(cb);

    // No ticket: no client-first token, and nothing changes.
    assert!(matches!(
        client.step(None, &mut Vec::new()),
        Err(SessionError::InputDataRequired)
    ));
    let challenge = toks[0];
    let mut resp = Vec::new();
    match client.step(Some(challenge), &mut resp) {
        Ok(State::Running) => {}
        Ok(s) => panic!("challenge answered with {s:?}"),
        Err(_) => {
            assert!(!client.has_security_layer());
            return;
        }
    }
    let ch = Challenge::parse(challenge).expect("answered a parseable challenge");
    let r = Response::parse(&resp).expect("the client's own response parses");
    assert!(r.qop >= min_qop, "downgrade: {:?} < {min_qop:?}", r.qop);
    assert!(ch.qops.contains(r.qop), "qop not offered");
    if let Some(c) = r.cipher {
        assert!(c.strength() >= floor);
        assert!(ch.ciphers.contains(c), "cipher not offered");
    }
    assert_eq!(r.nonce, ch.nonce);
    assert_eq!(r.username, "alice");
    let want = rspauth_token(&digest_for(&r, true));

    let (mut finished, mut failed) = (false, false);
    for &t in toks.iter().skip(1).take(3) {
        let input: Option<&[u8]> = match t {
            b"" => None,
            b"!" if fixed => Some(&want),
            t => Some(t),
        };
        let mut out = Vec::new();
        let res = client.step(input, &mut out);
        if finished {
            // Junk after success is ignored; the end of the protocol is MechanismDone.
            match input {
                Some(_) => assert_eq!(res.unwrap(), State::Finished(MessageSent::No)),
                None => assert!(matches!(res, Err(SessionError::MechanismDone)), "{res:?}"),
            }
            assert!(out.is_empty());
            continue;
        }
        match res {
            Ok(State::Finished(MessageSent::No)) => {
                assert!(!failed, "finished after a failure");
                let got = parse_rspauth(input.expect("finished on a token")).expect("parses");
                assert!(
                    got.eq_ignore_ascii_case(&digest_for(&r, true)),
                    "wrong rspauth accepted"
                );
                assert!(out.is_empty());
                finished = true;
            }
            Ok(s) => panic!("{s:?} after the response"),
            Err(e) => {
                if input.is_none() && !failed {
                    assert!(
                        matches!(e, SessionError::MutualAuthenticationFailed),
                        "{e:?}"
                    );
                }
                failed = true;
            }
        }
    }

    let o = outcome.lock().unwrap().clone();
    assert_eq!(
        finished,
        o.is_some(),
        "outcome without success or success without one"
    );
    let Some(o) = o.filter(|o| o.negotiated.qop.has_layer()) else {
        assert!(!client.has_security_layer());
        assert!(matches!(
            client.decode(layer_data, &mut Vec::new()),
            Err(SessionError::NoSecurityLayer)
        ));
        return;
    };
    let n = &o.negotiated;
    assert!(n.mutual && n.qop >= min_qop);
    assert_eq!((n.qop, n.cipher, n.own_maxbuf), (r.qop, r.cipher, r.maxbuf));
    assert!(client.has_security_layer());
    // The server's half, from the same keys.
    let (mut peer, _) = layer::establish(
        &session_key_for(&r),
        n.qop,
        n.cipher,
        Side::Server,
        n.own_maxbuf,
        n.peer_maxbuf,
    )
    .expect("the server's half");
    drive_decode(
        &mut |i: &[u8], o: &mut Vec<u8>| client.decode(i, o),
        &mut peer,
        n.own_maxbuf,
        layer_data,
    );
});
