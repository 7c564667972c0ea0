//! The receiving half of every qop/cipher on hostile frames.
//!
//! Input: a selector byte, then the payload.
//! - Selector bit 7 clear ("raw"): the payload is an RFC 4422 byte stream; every frame
//!   is unsealed in place by every (qop, cipher) layer (own maxbuf from bits 0-5),
//!   and the whole payload is also given to `unseal` as one wire message.
//!   Oracles: never a panic; the first failure poisons; a forged frame is never
//!   accepted (the fuzzer does not know the keys, so any success must be a frame the
//!   real sender sealed: checked by re-sealing).
//! - Bit 7 set ("tamper"): the layer selected by bits 0-2 seals messages cut from the
//!   payload (bit 6: sequence numbers start at 2^32 - 4, so the fourth message carries
//!   2^32 - 1, the last number there is), one wire message is changed by XOR with
//!   bytes from the payload, and all are unsealed in order. Oracles: unchanged messages come back exactly; a changed one is refused
//!   with a typed error and poisons the receiver; nothing after it is accepted.
#![no_main]

#[path = "../../tests/layer_common/mod.rs"]
mod layer_common;

use layer_common::{try_pipe_with, CONFIGS};
use libfuzzer_sys::fuzz_target;
use sasl_digest_md5::layer::{FrameDecoder, LayerError, Sealer, Unsealer};
use sasl_digest_md5::{Cipher, Side};

const HA1: [u8; 16] = *b"fuzz-ha1-16bytes";

fn pair(i: usize, maxbuf: u32) -> Result<(Sealer, Unsealer), LayerError> {
    let (qop, cipher) = CONFIGS[i % CONFIGS.len()];
    let p = try_pipe_with(&HA1, qop, cipher, Side::Client, maxbuf)?;
    Ok((p.tx, p.rx))
}

fn raw(sel: u8, payload: &[u8]) {
    let maxbuf = [17, 22, 32, 64, 256, 4096, 65536, 0xff_ffff][(sel & 7) as usize];
    for i in 0..CONFIGS.len() {
        let Ok((mut tx, mut rx)) = pair(i, maxbuf) else {
            // maxbuf too small for this cipher: establish refuses it.
            assert!(CONFIGS[i].1.is_some_and(Cipher::is_block) && maxbuf < 22);
            continue;
        };
        let mut dec = FrameDecoder::new(maxbuf).unwrap();
        let mut rest = payload;
        let mut failed = false;
        while !rest.is_empty() {
            let Ok((used, frame)) = dec.feed(rest) else {
                break;
            };
            rest = &rest[used..];
            let Some(frame) = frame else { continue };
            let copy = frame.to_vec();
            match rx.unseal_in_place(frame) {
                Ok(n) => {
                    assert!(!failed);
                    // Only what the real sender would have produced is accepted.
                    let mut resealed = Vec::new();
                    tx.seal(&frame[..n], &mut resealed).unwrap();
                    assert_eq!(resealed, copy, "forged frame accepted");
                }
                Err(e) => {
                    if failed {
                        assert_eq!(e, LayerError::Poisoned);
                    }
                    failed = true;
                    assert!(rx.is_poisoned());
                }
            }
        }
        // The whole payload as one wire message, on a fresh receiver.
        let (_, mut rx) = pair(i, maxbuf).unwrap();
        let mut out = b"keep".to_vec();
        match rx.unseal(payload, &mut out) {
            Ok(()) => {
                let (mut tx, _) = pair(i, maxbuf).unwrap();
                let mut resealed = Vec::new();
                tx.seal(&out[4..], &mut resealed).unwrap();
                assert_eq!(resealed, payload, "forged message accepted");
            }
            Err(_) => {
                assert_eq!(out, b"keep", "output changed on error");
                assert_eq!(rx.unseal(payload, &mut out), Err(LayerError::Poisoned));
            }
        }
    }
}

fn tamper(sel: u8, payload: &[u8]) {
    if payload.len() < 4 {
        return;
    }
    let i = (sel & 7) as usize % CONFIGS.len();
    let (mut tx, mut rx) = pair(i, 65536).unwrap();
    if sel & 0x40 != 0 {
        // up to 4 messages: the last one may carry 2^32 - 1, the last number there is
        tx.set_sequence_number_for_testing(u32::MAX - 3);
        rx.set_sequence_number_for_testing(u32::MAX - 3);
    }
    let count = 1 + (payload[0] as usize % 4);
    let target = payload[1] as usize % count;
    let pos = payload[2] as usize;
    let mask = &payload[3..payload.len().min(3 + 8)];
    let body = &payload[3 + mask.len()..];
    let msgs: Vec<&[u8]> = (0..count)
        .map(|k| {
            let a = body.len() * k / count;
            let b = body.len() * (k + 1) / count;
            &body[a..b]
        })
        .collect();
    let mut wires: Vec<Vec<u8>> = msgs
        .iter()
        .map(|m| {
            let mut w = Vec::new();
            tx.seal(m, &mut w).unwrap();
            w
        })
        .collect();
    let w = &mut wires[target];
    let start = pos % w.len();
    let mut changed = false;
    for (j, &m) in mask.iter().enumerate() {
        if let Some(b) = w.get_mut(start + j) {
            *b ^= m;
            changed |= m != 0;
        }
    }
    let mut failed = false;
    for (k, w) in wires.iter().enumerate() {
        let mut out = Vec::new();
        let r = rx.unseal(w, &mut out);
        if failed {
            assert_eq!(r, Err(LayerError::Poisoned));
        } else if k == target && changed {
            let e = r.expect_err("tampered message accepted");
            assert!(
                matches!(
                    e,
                    LayerError::IntegrityCheckFailed
                        | LayerError::SequenceMismatch { .. }
                        | LayerError::WrongMessageType(_)
                ),
                "{e:?}"
            );
            failed = true;
        } else {
            r.unwrap();
            assert_eq!(out, msgs[k]);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, payload)) = data.split_first() else {
        return;
    };
    if sel & 0x80 == 0 {
        raw(sel, payload);
    } else {
        tamper(sel, payload);
    }
});
