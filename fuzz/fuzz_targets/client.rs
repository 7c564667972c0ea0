//! The client driven by a hostile server: an arbitrary challenge, then an arbitrary
//! (or, in "fixed" mode, the correct) rspauth, then reauthentication answered with
//! arbitrary tokens.
//!
//! Input: one policy byte (see `client_config`; bit 7 = fixed mode), then tokens
//! separated by NUL bytes: challenge, rspauth, reauthentication answers. In fixed
//! mode a token `!` stands for the correct rspauth of the last response.
//!
//! Oracles: never a panic; never less protection than the policy demands; never a
//! qop or cipher the server did not offer; never established without the correct
//! rspauth; never more than one fresh response per reauthentication (a server that
//! keeps sending challenges is refused, not answered forever).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sasl_digest_md5::wire::Challenge;
use sasl_digest_md5::wire::{parse_rspauth, rspauth_token, Response, MAX_RESPONSE_LEN};
use sasl_digest_md5::{ClientContext, Error, Step};
use sasl_digest_md5_fuzz::{client_config, digest_for, tokens};

struct Run {
    ctx: ClientContext,
    fixed: bool,
    min_qop: sasl_digest_md5::Qop,
    floor: u32,
    last: Option<Response>,
}

impl Run {
    /// Checks a response the client produced for `challenge`.
    fn check_response(&mut self, resp: &[u8], challenge: Option<&Challenge>) {
        assert!(resp.len() <= MAX_RESPONSE_LEN);
        let r = Response::parse(resp).expect("the client's own response parses");
        assert!(
            r.qop >= self.min_qop,
            "downgrade: {:?} < {:?}",
            r.qop,
            self.min_qop
        );
        if let Some(c) = r.cipher {
            assert!(c.strength() >= self.floor);
        }
        if let Some(ch) = challenge {
            assert!(ch.qops.contains(r.qop), "qop not offered");
            if let Some(c) = r.cipher {
                assert!(ch.ciphers.contains(c), "cipher not offered");
            }
            assert_eq!(r.nonce, ch.nonce);
            assert_eq!(r.utf8, ch.utf8);
        }
        self.last = Some(r);
    }

    /// Feeds a server token in the rspauth position; returns whether the client
    /// answered with a new response.
    fn answer(&mut self, tok: &[u8]) -> bool {
        let correct = self
            .last
            .as_ref()
            .map(|r| rspauth_token(&digest_for(r, true)));
        let tok = match (&correct, self.fixed && tok == b"!") {
            (Some(c), true) => c.as_slice(),
            _ => tok,
        };
        let was_established = self.ctx.is_established();
        match self.ctx.step(Some(tok)) {
            Ok(Step::Complete(None)) => {
                assert!(!was_established);
                let want = digest_for(self.last.as_ref().expect("a response was sent"), true);
                let got = parse_rspauth(tok).expect("accepted rspauth parses");
                assert!(got.eq_ignore_ascii_case(&want), "wrong rspauth accepted");
                let n = self.ctx.negotiated().expect("negotiated once established");
                assert!(n.qop >= self.min_qop && n.mutual);
                false
            }
            Ok(Step::Complete(Some(_))) => panic!("the client never completes with a token"),
            Ok(Step::Continue(resp)) => {
                // Only a stale=true challenge in answer to a reauthentication.
                let ch = Challenge::parse(tok).expect("answered a parseable challenge");
                assert!(ch.stale);
                self.check_response(&resp, Some(&ch));
                true
            }
            Err(Error::OutOfSequence(_)) => {
                assert!(was_established || !self.ctx.is_established());
                false
            }
            Err(_) => {
                assert!(!self.ctx.is_established());
                false
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let toks = tokens(rest);
    let (config, min_qop, floor) = client_config(sel);
    let mut run = Run {
        ctx: ClientContext::new(config).expect("valid config"),
        fixed: sel & 0x80 != 0,
        min_qop,
        floor,
        last: None,
    };
    assert!(matches!(run.ctx.step(None), Err(Error::TokenRequired)));
    let challenge = toks[0];
    match run.ctx.step(Some(challenge)) {
        Ok(Step::Continue(resp)) => {
            let ch = Challenge::parse(challenge).expect("answered a parseable challenge");
            run.check_response(&resp, Some(&ch));
        }
        Ok(other) => panic!("challenge answered with {other:?}"),
        Err(_) => {
            assert!(matches!(
                run.ctx.step(Some(challenge)),
                Err(Error::OutOfSequence(_))
            ));
            return;
        }
    }
    // The rspauth position: a second challenge here must be refused.
    let rsp = toks.get(1).copied().unwrap_or(b"!");
    assert!(!run.answer(rsp), "answered a second challenge");
    if !run.ctx.is_established() {
        assert!(run.ctx.security_layer().is_err());
        return;
    }
    let qop = run.ctx.negotiated().unwrap().qop;
    assert_eq!(run.ctx.security_layer().is_ok(), qop.has_layer());
    assert!(run.ctx.security_layer().is_err(), "layer taken twice");
    // Established: further tokens are out of sequence and change nothing.
    if let Some(extra) = toks.get(2) {
        assert!(matches!(
            run.ctx.step(Some(extra)),
            Err(Error::OutOfSequence(_))
        ));
        assert!(run.ctx.is_established());
    }
    // Reauthentication, answered by the remaining tokens.
    let before = run.ctx.negotiated().unwrap().nc;
    match run.ctx.step(None) {
        Ok(Step::Continue(resp)) => run.check_response(&resp, None),
        other => panic!("reauthentication did not start: {other:?}"),
    }
    assert_eq!(run.last.as_ref().unwrap().nc, before + 1);
    let mut fresh = 0;
    for tok in toks.iter().skip(3) {
        if run.answer(tok) {
            fresh += 1;
            assert!(fresh <= 1, "kept answering challenges");
        } else if !run.ctx.is_established() {
            break;
        }
    }
});
