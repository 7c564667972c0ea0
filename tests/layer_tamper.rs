//! Hostile input: tampering, replay, reordering, truncation, malformed frames,
//! poisoning, and the sequence number wrap at 2^32.

mod layer_common;

use layer_common::*;
use sasl_digest_md5::layer::{self, FrameDecoder, LayerError};
use sasl_digest_md5::{Cipher, Side};

fn sealed(p: &mut Pipe, m: &[u8]) -> Vec<u8> {
    let mut w = Vec::new();
    p.tx.seal(m, &mut w).unwrap();
    w
}

/// After a failure, the next (perfectly valid) frame must be refused too.
fn assert_poisoned(p: &mut Pipe, next_valid: &[u8]) {
    assert!(p.rx.is_poisoned());
    let mut out = Vec::new();
    assert_eq!(p.rx.unseal(next_valid, &mut out), Err(LayerError::Poisoned));
    let mut copy = next_valid.to_vec();
    assert_eq!(p.rx.unseal_in_place(&mut copy), Err(LayerError::Poisoned));
    assert!(out.is_empty());
}

#[test]
fn every_single_bit_flip_is_rejected() {
    for (qop, cipher) in CONFIGS {
        for from in [Side::Client, Side::Server] {
            for len in [0usize, 5, 13] {
                let m = msg(len, 7);
                let reference = sealed(&mut pipe(qop, cipher, from, 4096), &m);
                for bit in 0..reference.len() * 8 {
                    let mut p = pipe(qop, cipher, from, 4096);
                    let mut w = sealed(&mut p, &m);
                    assert_eq!(w, reference);
                    let byte = bit / 8;
                    w[byte] ^= 1 << (bit % 8);
                    let mut out = b"keep".to_vec();
                    let err = p.rx.unseal(&w, &mut out).unwrap_err();
                    assert_eq!(out, b"keep", "output untouched on error");
                    let n = w.len();
                    let expected = if byte >= n - 4 {
                        LayerError::SequenceMismatch {
                            expected: 0,
                            got: u32::from_be_bytes(w[n - 4..].try_into().unwrap()),
                        }
                    } else if byte >= n - 6 {
                        LayerError::WrongMessageType(u16::from_be_bytes([w[n - 6], w[n - 5]]))
                    } else {
                        LayerError::IntegrityCheckFailed
                    };
                    assert_eq!(err, expected, "{cipher:?} len {len} bit {bit}");
                    let next = sealed(&mut p, b"next");
                    assert_poisoned(&mut p, &next);

                    // Same through the in-place path: plaintext area is wiped on error.
                    let mut p = pipe(qop, cipher, from, 4096);
                    let mut w = sealed(&mut p, &m);
                    w[byte] ^= 1 << (bit % 8);
                    assert_eq!(p.rx.unseal_in_place(&mut w).unwrap_err(), expected);
                    if expected == LayerError::IntegrityCheckFailed {
                        assert!(w[..n - 6].iter().all(|&b| b == 0));
                    }
                }
            }
        }
    }
}

#[test]
fn replay_reorder_and_loss_are_sequence_errors() {
    for (qop, cipher) in CONFIGS {
        // replay
        let mut p = pipe(qop, cipher, Side::Client, 4096);
        let w0 = sealed(&mut p, b"zero");
        let w1 = sealed(&mut p, b"one");
        let mut out = Vec::new();
        p.rx.unseal(&w0, &mut out).unwrap();
        assert_eq!(
            p.rx.unseal(&w0, &mut out),
            Err(LayerError::SequenceMismatch {
                expected: 1,
                got: 0
            })
        );
        assert_poisoned(&mut p, &w1);

        // reorder
        let mut p = pipe(qop, cipher, Side::Server, 4096);
        let w0 = sealed(&mut p, b"zero");
        let w1 = sealed(&mut p, b"one");
        assert_eq!(
            p.rx.unseal(&w1, &mut out),
            Err(LayerError::SequenceMismatch {
                expected: 0,
                got: 1
            })
        );
        assert_poisoned(&mut p, &w0);

        // a lost message
        let mut p = pipe(qop, cipher, Side::Client, 4096);
        let _w0 = sealed(&mut p, b"zero");
        let _w1 = sealed(&mut p, b"one");
        let w2 = sealed(&mut p, b"two");
        assert_eq!(
            p.rx.unseal(&w2, &mut out),
            Err(LayerError::SequenceMismatch {
                expected: 0,
                got: 2
            })
        );
    }
}

#[test]
fn truncation_and_extension_are_rejected() {
    for (qop, cipher) in CONFIGS {
        let block = cipher.is_some_and(Cipher::is_block);
        let m = msg(40, 3);
        let reference = sealed(&mut pipe(qop, cipher, Side::Client, 4096), &m);
        let n = reference.len();
        // cut from the end, from the front, and extend
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for cut in 1..n {
            variants.push(reference[..n - cut].to_vec());
            variants.push(reference[cut..].to_vec());
        }
        for extra in 1..10 {
            let mut v = reference[..n - 6].to_vec();
            v.extend(std::iter::repeat_n(0x55, extra));
            v.extend_from_slice(&reference[n - 6..]);
            variants.push(v);
        }
        for v in variants {
            let mut p = pipe(qop, cipher, Side::Client, 4096);
            let _ = sealed(&mut p, &m);
            let mut out = Vec::new();
            let err = p.rx.unseal(&v, &mut out).unwrap_err();
            if v.len() < 16 {
                assert_eq!(
                    err,
                    LayerError::FrameTooShort {
                        len: v.len(),
                        min: 16
                    }
                );
            } else if block && (v.len() - 6) % 8 != 0 {
                assert_eq!(err, LayerError::NotBlockAligned { len: v.len() - 6 });
            }
            assert!(out.is_empty());
            assert!(p.rx.is_poisoned());
        }
    }
}

#[test]
fn malformed_frames_get_their_typed_errors() {
    for (qop, cipher) in CONFIGS {
        let block = cipher.is_some_and(Cipher::is_block);
        let mut out = Vec::new();

        // wrong message type (only the type changed)
        let mut p = pipe(qop, cipher, Side::Client, 4096);
        let mut w = sealed(&mut p, b"hello");
        let n = w.len();
        w[n - 6..n - 4].copy_from_slice(&[0x00, 0x02]);
        assert_eq!(
            p.rx.unseal(&w, &mut out),
            Err(LayerError::WrongMessageType(2))
        );
        let next = sealed(&mut p, b"x");
        assert_poisoned(&mut p, &next);

        // undersize
        let mut p = pipe(qop, cipher, Side::Client, 4096);
        for len in 0..16 {
            let mut p2 = pipe(qop, cipher, Side::Client, 4096);
            assert_eq!(
                p2.rx.unseal(&vec![0; len], &mut out),
                Err(LayerError::FrameTooShort { len, min: 16 })
            );
        }
        assert_eq!(
            p.rx.unseal_in_place(&mut [0u8; 15]),
            Err(LayerError::FrameTooShort { len: 15, min: 16 })
        );
        let next = sealed(&mut p, b"x");
        assert_poisoned(&mut p, &next);

        // oversize: a genuine frame bigger than our own maxbuf
        let (mut tx, _) = layer::establish(&HA1, qop, cipher, Side::Client, 65536, 65536).unwrap();
        let (_, mut rx) = layer::establish(&HA1, qop, cipher, Side::Server, 65536, 100).unwrap();
        let mut w = Vec::new();
        tx.seal(&msg(100, 0), &mut w).unwrap();
        assert_eq!(
            rx.unseal(&w, &mut out),
            Err(LayerError::FrameTooLarge {
                len: w.len(),
                max: 100
            })
        );
        assert!(rx.is_poisoned());

        // sealing too much is refused without consuming a sequence number
        let mut p = pipe(qop, cipher, Side::Client, 4096);
        let max = p.tx.max_plaintext_len();
        let mut w = b"prefix".to_vec();
        assert_eq!(
            p.tx.seal(&msg(max + 1, 0), &mut w),
            Err(LayerError::MessageTooLarge { len: max + 1, max })
        );
        assert_eq!(
            p.tx.seal_frame(&msg(max + 1, 0), &mut w),
            Err(LayerError::MessageTooLarge { len: max + 1, max })
        );
        let mut big = msg(max + 1, 0);
        assert!(p.tx.seal_in_place(&mut big).is_err());
        assert_eq!(big, msg(max + 1, 0));
        assert_eq!(w, b"prefix");
        assert_eq!(p.tx.sequence_number(), 0);
        let w = sealed(&mut p, b"still fine");
        p.rx.unseal(&w, &mut out).unwrap();

        // non-block-aligned (DES only): valid trailer, body not a multiple of 8
        if block {
            let mut p = pipe(qop, cipher, Side::Client, 4096);
            let w = sealed(&mut p, b"hello");
            let mut bad = w[..w.len() - 6].to_vec();
            bad.push(0);
            bad.extend_from_slice(&w[w.len() - 6..]);
            assert_eq!(
                p.rx.unseal(&bad, &mut out),
                Err(LayerError::NotBlockAligned { len: bad.len() - 6 })
            );
            assert_poisoned(&mut p, &w);
        }
    }
}

#[test]
fn frame_decoder_refuses_bad_lengths_before_buffering() {
    let mut dec = FrameDecoder::new(1000).unwrap();
    assert_eq!(
        dec.peek(&1001u32.to_be_bytes()),
        Err(LayerError::FrameTooLarge {
            len: 1001,
            max: 1000
        })
    );
    assert_eq!(
        dec.peek(&u32::MAX.to_be_bytes()),
        Err(LayerError::FrameTooLarge {
            len: u32::MAX as usize,
            max: 1000
        })
    );
    assert_eq!(
        dec.peek(&[0, 0, 0, 15, 1, 2]),
        Err(LayerError::FrameTooShort { len: 15, min: 16 })
    );
    assert_eq!(
        dec.peek(&[0, 0, 3]),
        Ok(layer::Peek::NeedMore { frame_len: None })
    );
    assert_eq!(
        dec.peek(&[0, 0, 0, 16, 1]),
        Ok(layer::Peek::NeedMore {
            frame_len: Some(20)
        })
    );
    // push mode: prefix split over calls, then error, then poisoned
    assert_eq!(dec.feed(&[0, 0]).unwrap().0, 2);
    assert!(dec.is_mid_frame());
    assert_eq!(
        dec.feed(&[0xFF, 0xFF, 1, 2, 3]).map(|(n, _)| n),
        Err(LayerError::FrameTooLarge {
            len: 0xFFFF,
            max: 1000
        })
    );
    assert_eq!(dec.feed(&[0; 4]).map(|(n, _)| n), Err(LayerError::Poisoned));
    dec.reset();
    assert_eq!(
        dec.feed(&[0, 0, 0, 0]).map(|(n, _)| n),
        Err(LayerError::FrameTooShort { len: 0, min: 16 })
    );
}

#[test]
fn sequence_numbers_end_at_2_pow_32_minus_1() {
    for (qop, cipher) in CONFIGS {
        for from in [Side::Client, Side::Server] {
            let mut p = pipe(qop, cipher, from, 4096);
            let start = u32::MAX - 2;
            p.tx.set_sequence_number_for_testing(start);
            p.rx.set_sequence_number_for_testing(start);
            let mut seen = Vec::new();
            for i in 0..3u8 {
                let m = msg(i as usize * 5, i);
                let w = sealed(&mut p, &m);
                seen.push(u32::from_be_bytes(w[w.len() - 4..].try_into().unwrap()));
                let mut out = Vec::new();
                p.rx.unseal(&w, &mut out).unwrap();
                assert_eq!(out, m);
            }
            assert_eq!(seen, [u32::MAX - 2, u32::MAX - 1, u32::MAX]);
            assert!(p.tx.is_exhausted() && p.rx.is_exhausted());
            // No wrap to 0: the sender refuses, writes nothing, and stays exhausted.
            let mut w = Vec::new();
            assert_eq!(p.tx.seal(b"x", &mut w), Err(LayerError::SequenceExhausted));
            assert_eq!(
                p.tx.seal_frame(b"x", &mut w),
                Err(LayerError::SequenceExhausted)
            );
            assert!(w.is_empty());

            // The receiver refuses whatever comes after 2^32-1, even a frame
            // carrying seq 0 with a valid MAC.
            let mut q = pipe(qop, cipher, from, 4096);
            let first = sealed(&mut q, b"frame #0");
            assert_eq!(
                p.rx.unseal(&first, &mut Vec::new()),
                Err(LayerError::SequenceExhausted)
            );
            assert!(p.rx.is_poisoned());
        }
    }
}
