//! The RFC 4422 frame decoder on an arbitrary byte stream cut into arbitrary chunks.
//!
//! Input: 3 bytes choosing our maxbuf, 1 byte seeding the chunk sizes, then the
//! stream. Oracles: never a panic; push (`feed`, chunked) and peek (contiguous) agree
//! on every frame and on the first error; no frame is longer than maxbuf or shorter
//! than 16; the decoder's buffer never grows past maxbuf (a huge length prefix is
//! refused before anything is allocated).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sasl_digest_md5::layer::{FrameDecoder, LayerError, Peek};
use sasl_digest_md5::{MAXBUF_MAX, MAXBUF_MIN_EXCLUSIVE};

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let raw = u32::from_be_bytes([0, data[0], data[1], data[2]]);
    // Small maxbufs are the interesting ones; keep the full range reachable.
    let maxbuf = if raw & 0x80_0000 != 0 {
        MAXBUF_MIN_EXCLUSIVE + 1 + (raw & 0x3ff)
    } else {
        (raw % (MAXBUF_MAX + 1)).max(MAXBUF_MIN_EXCLUSIVE + 1)
    };
    let mut seed = u32::from(data[3]) | 1;
    let stream = &data[4..];

    // Reference: peek over the contiguous stream.
    let peeker = FrameDecoder::new(maxbuf).expect("valid maxbuf");
    let mut want: Vec<&[u8]> = Vec::new();
    let mut want_err: Option<LayerError> = None;
    let mut pos = 0;
    loop {
        match peeker.peek(&stream[pos..]) {
            Ok(Peek::Frame { frame_len }) => {
                let wire = &stream[pos + 4..pos + frame_len];
                assert!(wire.len() >= 16 && wire.len() <= maxbuf as usize);
                want.push(wire);
                pos += frame_len;
            }
            Ok(Peek::NeedMore { frame_len }) => {
                if let Some(n) = frame_len {
                    assert!(n > stream.len() - pos && n - 4 <= maxbuf as usize);
                }
                break;
            }
            Err(e) => {
                assert!(matches!(
                    e,
                    LayerError::FrameTooLarge { .. } | LayerError::FrameTooShort { .. }
                ));
                want_err = Some(e);
                break;
            }
        }
    }

    // Push in pseudo-random chunks.
    let mut dec = FrameDecoder::new(maxbuf).expect("valid maxbuf");
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut got_err = None;
    let mut rest = stream;
    'outer: while !rest.is_empty() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let n = (1 + seed as usize % 64).min(rest.len());
        let mut chunk = &rest[..n];
        rest = &rest[n..];
        while !chunk.is_empty() {
            match dec.feed(chunk) {
                Ok((used, frame)) => {
                    assert!(used > 0 && used <= chunk.len());
                    if let Some(f) = frame {
                        got.push(f.to_vec());
                    }
                    chunk = &chunk[used..];
                }
                Err(e) => {
                    got_err = Some(e);
                    assert_eq!(dec.feed(b"x"), Err(LayerError::Poisoned));
                    break 'outer;
                }
            }
        }
    }
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.as_slice(), *w);
    }
    assert_eq!(got_err, want_err);
    if want_err.is_none() {
        assert_eq!(dec.is_mid_frame(), pos < stream.len());
    }
});
