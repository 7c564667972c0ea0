//! Property tests: token codecs round-trip, the security layer round-trips and detects
//! every single-bit change, and the frame decoder is indifferent to how the byte
//! stream is cut.
//!
//! Case counts are modest so the suite stays fast; raise them with `PROPTEST_CASES`.

mod layer_common;

use layer_common::{pipe_with, Pipe, CONFIGS};
use proptest::prelude::*;
use sasl_digest_md5::digest::latin1_or_utf8;
use sasl_digest_md5::layer::{FrameDecoder, LayerError};
use sasl_digest_md5::wire::{Challenge, MAX_CHALLENGE_LEN};
use sasl_digest_md5::wire::{Response, MAX_RESPONSE_LEN};
use sasl_digest_md5::{
    Cipher, CipherSet, Qop, QopSet, Side, MAXBUF_DEFAULT, MAXBUF_MAX, MAXBUF_MIN_EXCLUSIVE,
};

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(n),
        ..ProptestConfig::default()
    }
}

/// Text with the characters that stress the codec: quotes, backslashes, commas,
/// white space, ISO-8859-1 and beyond (never NUL).
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('a', 'z'),
            1 => Just('"'),
            1 => Just('\\'),
            1 => Just(','),
            1 => Just(' '),
            1 => Just('='),
            1 => proptest::char::range('\u{a0}', '\u{ff}'),
            1 => proptest::char::range('\u{100}', '\u{7ff}'),
            1 => Just('用'),
            1 => Just('\u{1F600}'),
        ],
        0..max,
    )
    .prop_map(|v| v.into_iter().collect())
}

/// Nonce bytes: printable, quotes and backslashes, and (without charset) any octet
/// but NUL.
fn nonce(utf8: bool) -> BoxedStrategy<Vec<u8>> {
    if utf8 {
        text(40)
            .prop_filter("non-empty", |s| !s.is_empty())
            .prop_map(String::into_bytes)
            .boxed()
    } else {
        proptest::collection::vec(1u8..=255, 1..40).boxed()
    }
}

fn maxbuf() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(MAXBUF_DEFAULT),
        Just(MAXBUF_MIN_EXCLUSIVE + 1),
        Just(MAXBUF_MAX),
        (MAXBUF_MIN_EXCLUSIVE + 1)..=MAXBUF_MAX,
    ]
}

fn qops_and_ciphers() -> impl Strategy<Value = (QopSet, CipherSet)> {
    (1u8..8, 1u8..32).prop_map(|(q, c)| {
        let qops: QopSet = Qop::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| q & (1 << i) != 0)
            .map(|(_, q)| q)
            .collect();
        let ciphers: CipherSet = if qops.contains(Qop::AuthConf) {
            Cipher::ALL
                .into_iter()
                .enumerate()
                .filter(|(i, _)| c & (1 << i) != 0)
                .map(|(_, c)| c)
                .collect()
        } else {
            CipherSet::EMPTY
        };
        (qops, ciphers)
    })
}

/// A name that survives emit/parse in this charset: anything with `charset=utf-8`;
/// without it, names are sent as ISO-8859-1 where they fit, and read back as UTF-8
/// when the bytes are well-formed UTF-8 (the Cyrus tolerance), so a name whose
/// ISO-8859-1 form happens to be valid UTF-8 (e.g. "Ã©") does not survive.
fn survives(name: &str, utf8: bool) -> bool {
    if utf8 {
        return true;
    }
    let bytes = latin1_or_utf8(name);
    match std::str::from_utf8(&bytes) {
        Ok(s) => s == name,
        Err(_) => true,
    }
}

fn challenge() -> impl Strategy<Value = Challenge> {
    any::<bool>()
        .prop_flat_map(|utf8| {
            let realm = if utf8 {
                text(20).boxed()
            } else {
                // ISO-8859-1 only: the challenge has no way to send anything else.
                text(20)
                    .prop_map(|s| s.chars().filter(|c| (*c as u32) <= 0xff).collect())
                    .boxed()
            };
            (
                proptest::collection::vec(realm, 0..4),
                nonce(utf8),
                qops_and_ciphers(),
                any::<bool>(),
                maxbuf(),
                Just(utf8),
            )
        })
        .prop_map(
            |(realms, nonce, (qops, ciphers), stale, maxbuf, utf8)| Challenge {
                realms,
                nonce,
                qops,
                ciphers,
                stale,
                maxbuf,
                utf8,
            },
        )
}

fn response() -> impl Strategy<Value = Response> {
    any::<bool>()
        .prop_flat_map(|utf8| {
            let name =
                move || text(16).prop_filter("survives the charset", move |s| survives(s, utf8));
            let qop_cipher = prop_oneof![
                Just((Qop::Auth, None)),
                Just((Qop::AuthInt, None)),
                proptest::sample::select(Cipher::ALL.to_vec())
                    .prop_map(|c| (Qop::AuthConf, Some(c))),
            ];
            (
                (
                    name(),
                    proptest::option::of(name()),
                    nonce(utf8),
                    nonce(utf8),
                ),
                (any::<u32>(), qop_cipher, "[!-~]{1,20}/[!-~]{1,30}"),
                ("[0-9a-fA-F]{32}", maxbuf(), Just(utf8)),
                proptest::option::of(text(12).prop_filter("non-empty", |s| !s.is_empty())),
            )
        })
        .prop_map(
            |(
                (username, realm, nonce, cnonce),
                (nc, (qop, cipher), digest_uri),
                (hex, maxbuf, utf8),
                authzid,
            )| {
                let mut response = [0u8; 32];
                response.copy_from_slice(hex.as_bytes());
                Response {
                    username,
                    realm,
                    nonce,
                    cnonce,
                    nc,
                    qop,
                    digest_uri,
                    response,
                    maxbuf,
                    utf8,
                    cipher,
                    authzid,
                }
            },
        )
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn challenge_round_trips(c in challenge()) {
        let bytes = c.to_bytes();
        prop_assume!(bytes.len() <= MAX_CHALLENGE_LEN);
        prop_assert_eq!(Challenge::parse(&bytes), Ok(c));
    }

    #[test]
    fn response_round_trips(r in response()) {
        let bytes = r.to_bytes();
        prop_assume!(bytes.len() <= MAX_RESPONSE_LEN);
        prop_assert_eq!(Response::parse(&bytes), Ok(r));
    }
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Client), Just(Side::Server)]
}

fn config() -> impl Strategy<Value = (Qop, Option<Cipher>)> {
    proptest::sample::select(CONFIGS.to_vec())
}

proptest! {
    #![proptest_config(cases(64))]

    /// Every message comes back exactly, in order, at every size up to the largest
    /// the peer's maxbuf allows.
    #[test]
    fn seal_unseal_round_trip(
        cfg in config(),
        ha1 in any::<[u8; 16]>(),
        from in side(),
        maxbuf in prop_oneof![22u32..200, 200u32..70_000],
        lens in proptest::collection::vec(any::<proptest::sample::Index>(), 1..8),
        fill in any::<u8>(),
    ) {
        let Pipe { mut tx, mut rx } = pipe_with(&ha1, cfg.0, cfg.1, from, maxbuf);
        let max = tx.max_plaintext_len();
        prop_assert!(tx.sealed_len(max) <= maxbuf as usize);
        let mut wire = Vec::new();
        let mut out = Vec::new();
        for (k, ix) in lens.iter().enumerate() {
            let len = ix.index(max + 1);
            let msg: Vec<u8> = (0..len).map(|i| (i as u8) ^ fill ^ (k as u8)).collect();
            wire.clear();
            out.clear();
            tx.seal(&msg, &mut wire).unwrap();
            prop_assert_eq!(wire.len(), tx.sealed_len(len));
            rx.unseal(&wire, &mut out).unwrap();
            prop_assert_eq!(&out, &msg);
        }
        // One byte more than the maximum is refused without consuming a sequence number.
        let seq = tx.sequence_number();
        prop_assert_eq!(
            tx.seal(&vec![0; max + 1], &mut wire),
            Err(LayerError::MessageTooLarge { len: max + 1, max })
        );
        prop_assert_eq!(tx.sequence_number(), seq);
    }

    /// Flipping any single bit of a sealed message makes it fail with a typed error
    /// (and poisons the receiver).
    #[test]
    fn any_bit_flip_is_rejected(
        cfg in config(),
        ha1 in any::<[u8; 16]>(),
        from in side(),
        msg in proptest::collection::vec(any::<u8>(), 0..100),
        earlier in 0usize..3,
        bit in any::<proptest::sample::Index>(),
    ) {
        let Pipe { mut tx, mut rx } = pipe_with(&ha1, cfg.0, cfg.1, from, 4096);
        let mut out = Vec::new();
        for _ in 0..earlier {
            let mut w = Vec::new();
            tx.seal(b"warm up the chaining", &mut w).unwrap();
            rx.unseal(&w, &mut out).unwrap();
        }
        let mut wire = Vec::new();
        tx.seal(&msg, &mut wire).unwrap();
        let bit = bit.index(wire.len() * 8);
        wire[bit / 8] ^= 1 << (bit % 8);
        out.clear();
        let err = rx.unseal(&wire, &mut out).unwrap_err();
        prop_assert!(
            matches!(
                err,
                LayerError::IntegrityCheckFailed
                    | LayerError::SequenceMismatch { .. }
                    | LayerError::WrongMessageType(_)
            ),
            "{:?}",
            err
        );
        prop_assert!(out.is_empty());
        prop_assert!(rx.is_poisoned());
    }

    /// However the byte stream of frames is cut, the decoder yields the same frames,
    /// and they unseal to the messages sent.
    #[test]
    fn frame_decoder_ignores_chunking(
        cfg in config(),
        msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..10),
        cuts in proptest::collection::vec(1usize..64, 1..40),
    ) {
        let maxbuf = 512;
        let Pipe { mut tx, mut rx } = pipe_with(&[7; 16], cfg.0, cfg.1, Side::Client, maxbuf);
        let mut stream = Vec::new();
        for m in &msgs {
            tx.seal_frame(m, &mut stream).unwrap();
        }
        let mut dec = FrameDecoder::new(maxbuf).unwrap();
        let mut got = Vec::new();
        let mut rest = &stream[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts[i % cuts.len()].min(rest.len());
            i += 1;
            let mut chunk = &rest[..n];
            rest = &rest[n..];
            while !chunk.is_empty() {
                let (used, frame) = dec.feed(chunk).unwrap();
                chunk = &chunk[used..];
                if let Some(f) = frame {
                    let len = rx.unseal_in_place(f).unwrap();
                    got.push(f[..len].to_vec());
                }
            }
        }
        prop_assert!(!dec.is_mid_frame());
        prop_assert_eq!(got, msgs);
    }
}
