//! Regression tests for the security-layer and stream items of issue 10 ("Secure by
//! default"). Each test is named after the hole it closes; see the section
//! "Security layer and stream (hardening)" of `docs/hostile-inputs.md`.

mod layer_common;

use layer_common::*;
use sasl_digest_md5::layer::{self, LayerError};
use sasl_digest_md5::{Cipher, Error, Qop, Side, SspiStatus};

// ---------------------------------------------------------------------------------
// Item 4: sequence numbers must not wrap at 2^32.

#[test]
fn sequence_exhausted_refuses_seal_and_unseal_past_2_pow_32_minus_1() {
    for (qop, cipher) in CONFIGS {
        let mut p = pipe(qop, cipher, Side::Client, 4096);
        p.tx.set_sequence_number_for_testing(u32::MAX);
        p.rx.set_sequence_number_for_testing(u32::MAX);

        // The last number is still usable, in both halves.
        let mut last = Vec::new();
        p.tx.seal(b"last", &mut last).unwrap();
        assert_eq!(&last[last.len() - 4..], &u32::MAX.to_be_bytes());
        let mut out = Vec::new();
        p.rx.unseal(&last, &mut out).unwrap();
        assert_eq!(out, b"last");
        assert!(p.tx.is_exhausted() && p.rx.is_exhausted());

        // Sealing more is refused, with nothing written, in every entry point.
        let mut wire = Vec::new();
        assert_eq!(p.tx.seal(b"x", &mut wire), Err(LayerError::SequenceExhausted));
        assert_eq!(p.tx.seal_frame(b"x", &mut wire), Err(LayerError::SequenceExhausted));
        let mut in_place = b"x".to_vec();
        assert_eq!(p.tx.seal_in_place(&mut in_place), Err(LayerError::SequenceExhausted));
        assert_eq!(in_place, b"x");
        assert!(wire.is_empty());

        // The replay that a wrap would have allowed: frame #0 of this direction
        // (valid MAC, seq 0) after 2^32 messages. Refused, in both unseal entry points.
        let mut fresh = pipe(qop, cipher, Side::Client, 4096);
        let mut frame0 = Vec::new();
        fresh.tx.seal(b"frame #0", &mut frame0).unwrap();
        let mut rx2 = pipe(qop, cipher, Side::Client, 4096).rx;
        rx2.set_sequence_number_for_testing(u32::MAX);
        rx2.unseal(&last, &mut Vec::new()).unwrap();
        assert_eq!(
            rx2.unseal_in_place(&mut frame0.clone()),
            Err(LayerError::SequenceExhausted)
        );
        assert_eq!(
            p.rx.unseal(&frame0, &mut out),
            Err(LayerError::SequenceExhausted),
            "{qop} {cipher:?}"
        );
        assert_eq!(out, b"last", "nothing appended");
        assert!(p.rx.is_poisoned());
    }
}

#[test]
fn sequence_exhausted_says_reauthenticate_and_maps_to_context_expired() {
    let e = LayerError::SequenceExhausted;
    assert!(e.to_string().contains("reauthenticate"), "{e}");
    assert_eq!(Error::from(e).status(), SspiStatus::SEC_E_CONTEXT_EXPIRED);
    // Distinct from an out-of-order message, which is SEC_E_OUT_OF_SEQUENCE.
    let mismatch = LayerError::SequenceMismatch {
        expected: 1,
        got: 0,
    };
    assert_eq!(
        Error::from(mismatch).status(),
        SspiStatus::SEC_E_OUT_OF_SEQUENCE
    );
}

#[test]
fn sequence_exhausted_is_not_reached_early() {
    // 2^32 - 2 -> 2^32 - 1 is an ordinary step, not exhaustion.
    let (mut tx, _) =
        layer::establish(&HA1, Qop::AuthConf, Some(Cipher::Des), Side::Server, 4096, 4096).unwrap();
    tx.set_sequence_number_for_testing(u32::MAX - 1);
    tx.seal(b"a", &mut Vec::new()).unwrap();
    assert!(!tx.is_exhausted());
    assert_eq!(tx.sequence_number(), u32::MAX);
    tx.seal(b"b", &mut Vec::new()).unwrap();
    assert!(tx.is_exhausted());
}
