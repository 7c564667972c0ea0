//! Round trips through every qop/cipher, both directions, all API variants.

mod layer_common;

use layer_common::*;
use sasl_digest_md5::layer::{self, FrameDecoder, LayerError, Peek, Sealer, Unsealer};
use sasl_digest_md5::{Cipher, Qop, Side, MAXBUF_MAX};

const SIDES: [Side; 2] = [Side::Client, Side::Server];

fn sizes(max: usize) -> Vec<usize> {
    vec![0, 1, 7, 8, 9, 1000, max, 15, 16, 17, max - 1, 3, max]
}

#[test]
fn seal_unseal_all_configs_both_directions() {
    for (qop, cipher) in CONFIGS {
        for from in SIDES {
            let Pipe { mut tx, mut rx } = pipe(qop, cipher, from, 65536);
            let max = tx.max_plaintext_len();
            let mut wire = Vec::new();
            let mut plain = Vec::new();
            // many messages in a row: keystream/CBC/sequence continuity
            for round in 0..20u8 {
                for len in sizes(max) {
                    if len + 1 >= max && round >= 2 {
                        continue; // the largest sizes twice are enough (debug builds)
                    }
                    let m = msg(len, round);
                    wire.clear();
                    plain.clear();
                    tx.seal(&m, &mut wire).unwrap();
                    assert_eq!(wire.len(), tx.sealed_len(len));
                    if cipher.is_some() && len >= 8 {
                        assert_ne!(&wire[..8], &m[..8], "{cipher:?} must encrypt");
                    }
                    rx.unseal(&wire, &mut plain).unwrap();
                    assert_eq!(
                        plain, m,
                        "{qop} {cipher:?} {from:?} len {len} round {round}"
                    );
                }
            }
            assert_eq!(tx.sequence_number(), rx.sequence_number());
        }
    }
}

#[test]
fn two_directions_are_independent_and_interleaved() {
    for (qop, cipher) in CONFIGS {
        let (mut c_tx, mut c_rx) =
            layer::establish(&HA1, qop, cipher, Side::Client, 4096, 8192).unwrap();
        let (mut s_tx, mut s_rx) =
            layer::establish(&HA1, qop, cipher, Side::Server, 8192, 4096).unwrap();
        let mut w = Vec::new();
        let mut p = Vec::new();
        for i in 0..50usize {
            let m = msg(i * 3, i as u8);
            w.clear();
            p.clear();
            c_tx.seal(&m, &mut w).unwrap();
            s_rx.unseal(&w, &mut p).unwrap();
            assert_eq!(p, m);
            if i % 3 == 0 {
                // server sends two for every third client message
                for j in 0..2 {
                    let m = msg(i + j, 0xAA);
                    w.clear();
                    p.clear();
                    s_tx.seal(&m, &mut w).unwrap();
                    c_rx.unseal(&w, &mut p).unwrap();
                    assert_eq!(p, m);
                }
            }
        }
        // Client->server traffic cannot be unsealed as server->client traffic.
        let (mut c_tx2, _) = layer::establish(&HA1, qop, cipher, Side::Client, 4096, 4096).unwrap();
        let (_, mut c_rx2) = layer::establish(&HA1, qop, cipher, Side::Client, 4096, 4096).unwrap();
        w.clear();
        c_tx2.seal(b"reflected", &mut w).unwrap();
        assert_eq!(
            c_rx2.unseal(&w, &mut p),
            Err(LayerError::IntegrityCheckFailed),
            "{cipher:?}: reflection must fail"
        );
    }
}

#[test]
fn in_place_and_framed_variants_agree_with_seal() {
    for (qop, cipher) in CONFIGS {
        for from in SIDES {
            let Pipe {
                tx: mut a,
                rx: mut ra,
            } = pipe(qop, cipher, from, 65536);
            let Pipe {
                tx: mut b,
                rx: mut rb,
            } = pipe(qop, cipher, from, 65536);
            let Pipe {
                tx: mut c,
                rx: mut rc,
            } = pipe(qop, cipher, from, 65536);
            let mut dec = FrameDecoder::new(65536).unwrap();
            for (i, len) in sizes(a.max_plaintext_len()).into_iter().enumerate() {
                let m = msg(len, i as u8);
                let mut w1 = Vec::new();
                a.seal(&m, &mut w1).unwrap();

                let mut w2 = m.clone();
                b.seal_in_place(&mut w2).unwrap();
                assert_eq!(w1, w2);

                let mut f = Vec::new();
                c.seal_frame(&m, &mut f).unwrap();
                assert_eq!(&f[..4], &(w1.len() as u32).to_be_bytes());
                assert_eq!(&f[4..], &w1[..]);

                // unseal (copying), unseal_in_place, frame decoder + in place
                let mut p = vec![0xEE; 3]; // appends after existing content
                ra.unseal(&w1, &mut p).unwrap();
                assert_eq!(&p[..3], &[0xEE; 3]);
                assert_eq!(&p[3..], &m[..]);

                let n = rb.unseal_in_place(&mut w2).unwrap();
                assert_eq!(&w2[..n], &m[..]);

                assert_eq!(dec.peek(&f).unwrap(), Peek::Frame { frame_len: f.len() });
                let (used, frame) = dec.feed(&f).unwrap();
                assert_eq!(used, f.len());
                let frame = frame.expect("whole frame fed");
                let n = rc.unseal_in_place(frame).unwrap();
                assert_eq!(&frame[..n], &m[..]);
            }
        }
    }
}

#[test]
fn seal_in_place_at_leaves_prefix_alone() {
    let Pipe { mut tx, mut rx } = pipe(Qop::AuthConf, Some(Cipher::Des), Side::Client, 4096);
    let mut buf = b"HDR!".to_vec();
    buf.extend_from_slice(b"some payload");
    let n = tx.seal_in_place_at(&mut buf, 4).unwrap();
    assert_eq!(&buf[..4], b"HDR!");
    assert_eq!(buf.len(), 4 + n);
    let mut p = Vec::new();
    rx.unseal(&buf[4..], &mut p).unwrap();
    assert_eq!(p, b"some payload");
}

#[test]
fn frame_decoder_handles_arbitrary_chunking() {
    for (qop, cipher) in CONFIGS {
        let Pipe { mut tx, mut rx } = pipe(qop, cipher, Side::Server, 2048);
        let mut stream = Vec::new();
        let mut sent = Vec::new();
        for i in 0..40usize {
            let m = msg((i * 37) % (tx.max_plaintext_len() + 1), i as u8);
            tx.seal_frame(&m, &mut stream).unwrap();
            sent.push(m);
        }
        for chunk_len in [1usize, 2, 3, 4, 5, 7, 16, 17, 100, 4096] {
            let Pipe {
                tx: _,
                rx: mut fresh,
            } = pipe(qop, cipher, Side::Server, 2048);
            let mut dec = FrameDecoder::new(2048).unwrap();
            let mut got = Vec::new();
            for mut chunk in stream.chunks(chunk_len) {
                while !chunk.is_empty() {
                    let (used, frame) = dec.feed(chunk).unwrap();
                    assert!(used > 0);
                    chunk = &chunk[used..];
                    if let Some(f) = frame {
                        let n = fresh.unseal_in_place(f).unwrap();
                        got.push(f[..n].to_vec());
                    }
                }
            }
            assert!(!dec.is_mid_frame());
            assert_eq!(got, sent, "{cipher:?} chunk {chunk_len}");
        }
        // Peek mode over a growing buffer, as rsasl's decode would see it.
        let mut got = Vec::new();
        let dec = FrameDecoder::new(2048).unwrap();
        let mut pos = 0;
        let mut avail = 0;
        while pos < stream.len() {
            match dec.peek(&stream[pos..avail]).unwrap() {
                Peek::NeedMore { frame_len } => {
                    if let Some(fl) = frame_len {
                        assert!(fl > avail - pos);
                    }
                    avail = (avail + 11).min(stream.len());
                }
                Peek::Frame { frame_len } => {
                    let mut p = Vec::new();
                    rx.unseal(&stream[pos + 4..pos + frame_len], &mut p)
                        .unwrap();
                    got.push(p);
                    pos += frame_len;
                    avail = avail.max(pos);
                }
            }
        }
        assert_eq!(got, sent);
    }
}

#[test]
fn largest_message_fits_peer_maxbuf() {
    for (qop, cipher) in CONFIGS {
        for maxbuf in (17u32..400).chain([4096, 65535, 65536, 65537, MAXBUF_MAX]) {
            let Ok((mut tx, _)) = layer::establish(&HA1, qop, cipher, Side::Client, maxbuf, 65536)
            else {
                // only refused when not even one byte fits: wire of 1 byte > maxbuf
                let one = if cipher.is_some_and(Cipher::is_block) {
                    6 + 16
                } else {
                    17
                };
                assert!(maxbuf < one, "{cipher:?} maxbuf {maxbuf} refused");
                continue;
            };
            let max = tx.max_plaintext_len();
            assert!(max >= 1);
            assert!(tx.sealed_len(max) <= maxbuf as usize, "{cipher:?} {maxbuf}");
            assert!(
                tx.sealed_len(max + 1) > maxbuf as usize,
                "{cipher:?} {maxbuf} not tight"
            );
            // Never below what Cyrus's client computes (maxbuf - 25 / - 16).
            let cyrus = (maxbuf as i64) - if qop == Qop::AuthConf { 25 } else { 16 };
            assert!(max as i64 >= cyrus);
            if maxbuf <= 70000 {
                // The largest message goes through and is accepted by a receiver whose
                // own maxbuf is exactly the peer maxbuf we were given.
                let (_, mut rx) =
                    layer::establish(&HA1, qop, cipher, Side::Server, 65536, maxbuf).unwrap();
                let mut w = Vec::new();
                tx.seal_frame(&msg(max, 1), &mut w).unwrap();
                assert!(w.len() <= maxbuf as usize + 4);
                let mut dec = FrameDecoder::new(maxbuf).unwrap();
                let (_, f) = dec.feed(&w).unwrap();
                let n = rx.unseal_in_place(f.unwrap()).unwrap();
                assert_eq!(n, max);
                let err = tx.seal(&msg(max + 1, 1), &mut w).unwrap_err();
                assert_eq!(err, LayerError::MessageTooLarge { len: max + 1, max });
            }
        }
    }
}

#[test]
fn max_plaintext_examples_from_docs() {
    let f = |c: Option<Cipher>| {
        let q = if c.is_some() {
            Qop::AuthConf
        } else {
            Qop::AuthInt
        };
        layer::establish(&HA1, q, c, Side::Client, 65536, 65536)
            .unwrap()
            .0
            .max_plaintext_len()
    };
    assert_eq!(f(None), 65520);
    assert_eq!(f(Some(Cipher::Rc4)), 65520);
    assert_eq!(f(Some(Cipher::Des)), 65517);
    assert_eq!(f(Some(Cipher::TripleDes)), 65517);
}

#[test]
fn establish_rejects_bad_parameters() {
    use LayerError::*;
    let e = |q, c, p, o| layer::establish(&HA1, q, c, Side::Client, p, o).unwrap_err();
    assert_eq!(e(Qop::Auth, None, 65536, 65536), NoSecurityLayer(Qop::Auth));
    assert_eq!(e(Qop::AuthConf, None, 65536, 65536), CipherRequired);
    assert_eq!(
        e(Qop::AuthInt, Some(Cipher::Rc4), 65536, 65536),
        UnexpectedCipher
    );
    assert_eq!(e(Qop::AuthInt, None, 16, 65536), PeerMaxBufOutOfRange(16));
    assert_eq!(e(Qop::AuthInt, None, 0, 65536), PeerMaxBufOutOfRange(0));
    assert_eq!(
        e(Qop::AuthInt, None, MAXBUF_MAX + 1, 65536),
        PeerMaxBufOutOfRange(MAXBUF_MAX + 1)
    );
    assert_eq!(e(Qop::AuthInt, None, 65536, 16), OwnMaxBufOutOfRange(16));
    assert_eq!(
        e(Qop::AuthInt, None, 65536, u32::MAX),
        OwnMaxBufOutOfRange(u32::MAX)
    );
    assert_eq!(
        e(Qop::AuthConf, Some(Cipher::Des), 20, 65536),
        PeerMaxBufOutOfRange(20)
    );
    assert!(FrameDecoder::new(16).is_err());
    assert!(FrameDecoder::new(MAXBUF_MAX + 1).is_err());
}

#[test]
fn halves_are_send_sync_and_work_on_separate_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Sealer>();
    assert_send_sync::<Unsealer>();
    assert_send_sync::<FrameDecoder>();
    assert_send_sync::<LayerError>();

    let Pipe { mut tx, mut rx } = pipe(Qop::AuthConf, Some(Cipher::TripleDes), Side::Client, 65536);
    let (send, recv) = std::sync::mpsc::channel::<Vec<u8>>();
    let producer = std::thread::spawn(move || {
        for i in 0..200usize {
            let mut w = Vec::new();
            tx.seal(&msg(i, i as u8), &mut w).unwrap();
            send.send(w).unwrap();
        }
    });
    let consumer = std::thread::spawn(move || {
        for (i, w) in recv.iter().enumerate() {
            let mut p = Vec::new();
            rx.unseal(&w, &mut p).unwrap();
            assert_eq!(p, msg(i, i as u8));
        }
        rx.sequence_number()
    });
    producer.join().unwrap();
    assert_eq!(consumer.join().unwrap(), 200);
}

#[test]
fn debug_output_redacts_keys() {
    let (tx, rx) = layer::establish(
        &HA1,
        Qop::AuthConf,
        Some(Cipher::Rc4),
        Side::Client,
        65536,
        65536,
    )
    .unwrap();
    for s in [format!("{tx:?}"), format!("{rx:?}"), format!("{tx:#?}")] {
        assert!(s.contains("redacted"), "{s}");
        assert!(!s.contains("3a"), "{s}"); // no key bytes in hex
        assert!(!s.contains("58,"), "{s}"); // nor in decimal (0x3a = 58)
    }
}
