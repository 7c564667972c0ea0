//! HMAC-MD5 (RFC 2104) with a 16-byte key, for the security layer's per-message MAC:
//! the keyed inner and outer states are computed once per session.
//!
//! Per message the MAC is `HMAC-MD5(Ki, seq || msg)`: the inner hash continues from
//! the precomputed state over `seq || msg` and its padding, the outer hash is one
//! block. No hasher objects are cloned and message blocks are compressed straight
//! from the caller's slice. The loops that run a cipher alongside the MAC are in
//! `stitched`. Checked against the `hmac` crate and the RFC 2202 vectors.
//!
//! Public (hidden) only so that `examples/throughput.rs` can measure the bare
//! primitive; not part of the crate's API.

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::md5::{compress, finish, pad_and_digest, INIT};
use super::truncate_mac;

/// HMAC-MD5 with a 16-byte key, keyed inner and outer states precomputed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct HmacMd5 {
    pub(super) inner: [u32; 4],
    pub(super) outer: [u32; 4],
}

impl HmacMd5 {
    /// Precomputes the states after the `key ^ ipad` and `key ^ opad` blocks.
    pub fn new(key: &[u8; 16]) -> Self {
        let mut pad = [0x36u8; 64];
        for (p, k) in pad.iter_mut().zip(key) {
            *p ^= k;
        }
        let mut inner = INIT;
        compress(&mut inner, &pad);
        for p in pad.iter_mut() {
            *p ^= 0x36 ^ 0x5c;
        }
        let mut outer = INIT;
        compress(&mut outer, &pad);
        pad.zeroize();
        HmacMd5 { inner, outer }
    }

    /// HMAC-MD5(key, prefix || msg); `prefix` is shorter than 64 bytes.
    #[inline]
    pub fn mac(&self, prefix: &[u8], msg: &[u8]) -> [u8; 16] {
        let mut ih = finish(self.inner, 64, prefix, msg);
        let out = finish(self.outer, 64, &ih, &[]);
        ih.zeroize();
        out
    }

    /// The first 10 bytes of HMAC-MD5(key, seq || msg), seq big-endian.
    #[inline]
    pub fn mac10(&self, seq: u32, msg: &[u8]) -> [u8; 10] {
        let full = self.mac(&seq.to_be_bytes(), msg);
        truncate_mac(&full)
    }

    /// The first 10 bytes of HMAC-MD5(key, seq || msg), seq big-endian, appending
    /// `msg` to `out` in the same pass: each 64-byte block is copied just before it
    /// is hashed (copying it after the compression let LLVM schedule the `Vec`
    /// capacity check into the MD5 chain, 5 % slower). Same result as
    /// `out.extend_from_slice(msg)` then `mac10`; sealing and unsealing auth-int
    /// (and sealing DES) read the message once instead of twice.
    #[inline]
    pub fn mac10_append(&self, seq: u32, msg: &[u8], out: &mut Vec<u8>) -> [u8; 10] {
        out.reserve(msg.len());
        let mut state = self.inner;
        let mut block = [0u8; 64];
        block[..4].copy_from_slice(&seq.to_be_bytes());
        let mut fill = 4;
        let mut rest = msg;
        if rest.len() >= 60 {
            let (head, tail) = rest.split_at(60);
            block[4..].copy_from_slice(head);
            compress(&mut state, &block);
            out.extend_from_slice(head);
            let mut blocks = tail.chunks_exact(64);
            for b in &mut blocks {
                out.extend_from_slice(b);
                compress(&mut state, b);
            }
            rest = blocks.remainder();
            fill = 0;
        }
        out.extend_from_slice(rest);
        block[fill..fill + rest.len()].copy_from_slice(rest);
        let mut ih = pad_and_digest(
            state,
            &mut block,
            fill + rest.len(),
            64 + 4 + msg.len() as u64,
        );
        let full = finish(self.outer, 64, &ih, &[]);
        ih.zeroize();
        truncate_mac(&full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::hmac::{Hmac, Mac};
    use ::md5::Md5;

    #[test]
    fn mac10_append_equals_copy_then_mac() {
        let key = HmacMd5::new(b"0123456789abcdef");
        let data: Vec<u8> = (0..700u32).map(|i| (i * 73 + 11) as u8).collect();
        let mut rng = 0x1234_5678u32;
        for len in (0..=300).chain([511, 512, 513, 575, 576, 577]) {
            // random source offset and random existing contents of `out`
            rng = rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let off = (rng >> 24) as usize % (data.len() - len + 1);
            let pre = (rng >> 8) as usize % 70;
            let msg = &data[off..off + len];
            let seq = rng ^ len as u32;
            let mut out: Vec<u8> = data[..pre].to_vec();
            let mac = key.mac10_append(seq, msg, &mut out);
            assert_eq!(mac, key.mac10(seq, msg), "len {len} off {off}");
            let mut m = <Hmac<Md5> as Mac>::new_from_slice(b"0123456789abcdef").unwrap();
            m.update(&seq.to_be_bytes());
            m.update(msg);
            assert_eq!(mac[..], m.finalize().into_bytes()[..10], "len {len}");
            assert_eq!(&out[..pre], &data[..pre]);
            assert_eq!(&out[pre..], msg);
        }
    }

    #[test]
    fn rfc2202_case_1_with_a_16_byte_key() {
        let mac = HmacMd5::new(&[0x0b; 16]).mac(b"Hi ", b"There");
        assert_eq!(
            mac,
            [
                0x92, 0x94, 0x72, 0x7a, 0x36, 0x38, 0xbb, 0x1c, 0x13, 0xf4, 0x8e, 0xf8, 0x15, 0x8b,
                0xfc, 0x9d
            ]
        );
    }

    #[test]
    fn matches_md5_and_hmac_crates_at_every_length_around_block_edges() {
        let data: Vec<u8> = (0..600u32).map(|i| (i * 167 + 13) as u8).collect();
        let key: [u8; 16] = *b"0123456789abcdef";
        let ours = HmacMd5::new(&key);
        for len in (0..=200).chain([255, 256, 257, 511, 512, 513, 600]) {
            let msg = &data[..len];
            assert_eq!(
                finish(INIT, 0, &[], msg)[..],
                <Md5 as ::md5::Digest>::digest(msg)[..],
                "md5 len {len}"
            );
            for seq in [0u32, 1, 0xdead_beef] {
                let mut m = <Hmac<Md5> as Mac>::new_from_slice(&key).unwrap();
                m.update(&seq.to_be_bytes());
                m.update(msg);
                let want = m.finalize().into_bytes();
                assert_eq!(ours.mac(&seq.to_be_bytes(), msg)[..], want[..], "len {len}");
                assert_eq!(ours.mac10(seq, msg)[..], want[..10]);
            }
        }
    }
}
