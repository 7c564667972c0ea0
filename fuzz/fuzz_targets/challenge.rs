//! The digest-challenge parser on arbitrary bytes: never panics, and whatever it
//! accepts re-emits canonically (emit, parse again: the same challenge).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sasl_digest_md5::wire::{Challenge, MAX_CHALLENGE_LEN};
use sasl_digest_md5::{Qop, MAXBUF_MAX, MAXBUF_MIN_EXCLUSIVE};

fuzz_target!(|data: &[u8]| {
    let _ = sasl_digest_md5::wire::lexer::parse(data);
    let Ok(c) = Challenge::parse(data) else {
        return;
    };
    assert!(data.len() <= MAX_CHALLENGE_LEN);
    assert!(!c.nonce.is_empty());
    assert!(c.maxbuf > MAXBUF_MIN_EXCLUSIVE && c.maxbuf <= MAXBUF_MAX);
    // auth-conf is only offered with a cipher we know, and ciphers only with auth-conf.
    assert_eq!(c.qops.contains(Qop::AuthConf), !c.ciphers.is_empty());
    let emitted = c.to_bytes();
    if emitted.len() > MAX_CHALLENGE_LEN {
        // Escaping can lengthen a token that was at the limit.
        return;
    }
    let again = Challenge::parse(&emitted).expect("an emitted challenge parses");
    assert_eq!(again, c);
    assert_eq!(again.to_bytes(), emitted);
});
