//! MD5 (RFC 1321): the round constants, the four round functions, the compression
//! function written for the latency of its dependency chain, and the streaming
//! [`Md5`] for secret input, wiped when finalized or dropped.
//!
//! MD5 on an out-of-order CPU is bound by the dependency chain of its 64 steps: in
//! every step `a + K[i] + M[g]` and the parts of the round function that do not
//! involve the newest word `b` are computed off the critical path;
//! `G(b,c,d) = (b & d) | (c & !d)` is computed as `(c & !d) + (b & d)` (the two terms
//! never share a bit), so only an AND and an ADD wait for `b`. [`compress_words`]
//! takes a hook called after each step, where `stitched` runs a cipher in
//! the shadow of that chain. Checked against the `md-5` crate and the RFC 1321
//! vectors.

use zeroize::{Zeroize, ZeroizeOnDrop};

pub(super) const K: [u32; 64] = [
    0xd76a_a478,
    0xe8c7_b756,
    0x2420_70db,
    0xc1bd_ceee,
    0xf57c_0faf,
    0x4787_c62a,
    0xa830_4613,
    0xfd46_9501,
    0x6980_98d8,
    0x8b44_f7af,
    0xffff_5bb1,
    0x895c_d7be,
    0x6b90_1122,
    0xfd98_7193,
    0xa679_438e,
    0x49b4_0821,
    0xf61e_2562,
    0xc040_b340,
    0x265e_5a51,
    0xe9b6_c7aa,
    0xd62f_105d,
    0x0244_1453,
    0xd8a1_e681,
    0xe7d3_fbc8,
    0x21e1_cde6,
    0xc337_07d6,
    0xf4d5_0d87,
    0x455a_14ed,
    0xa9e3_e905,
    0xfcef_a3f8,
    0x676f_02d9,
    0x8d2a_4c8a,
    0xfffa_3942,
    0x8771_f681,
    0x6d9d_6122,
    0xfde5_380c,
    0xa4be_ea44,
    0x4bde_cfa9,
    0xf6bb_4b60,
    0xbebf_bc70,
    0x289b_7ec6,
    0xeaa1_27fa,
    0xd4ef_3085,
    0x0488_1d05,
    0xd9d4_d039,
    0xe6db_99e5,
    0x1fa2_7cf8,
    0xc4ac_5665,
    0xf429_2244,
    0x432a_ff97,
    0xab94_23a7,
    0xfc93_a039,
    0x655b_59c3,
    0x8f0c_cc92,
    0xffef_f47d,
    0x8584_5dd1,
    0x6fa8_7e4f,
    0xfe2c_e6e0,
    0xa301_4314,
    0x4e08_11a1,
    0xf753_7e82,
    0xbd3a_f235,
    0x2ad7_d2bb,
    0xeb86_d391,
];

pub(super) const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

#[inline(always)]
fn ff(a: u32, b: u32, c: u32, d: u32, mk: u32, s: u32) -> u32 {
    // F = (b & c) | (!b & d) = d ^ (b & (c ^ d))
    a.wrapping_add(mk)
        .wrapping_add(d ^ (b & (c ^ d)))
        .rotate_left(s)
        .wrapping_add(b)
}

#[inline(always)]
fn gg(a: u32, b: u32, c: u32, d: u32, mk: u32, s: u32) -> u32 {
    // G = (b & d) | (c & !d), the two terms disjoint: add them, c & !d first
    a.wrapping_add(mk)
        .wrapping_add(c & !d)
        .wrapping_add(b & d)
        .rotate_left(s)
        .wrapping_add(b)
}

#[inline(always)]
fn hh(a: u32, b: u32, c: u32, d: u32, mk: u32, s: u32) -> u32 {
    a.wrapping_add(mk)
        .wrapping_add(b ^ (c ^ d))
        .rotate_left(s)
        .wrapping_add(b)
}

#[inline(always)]
fn ii(a: u32, b: u32, c: u32, d: u32, mk: u32, s: u32) -> u32 {
    a.wrapping_add(mk)
        .wrapping_add(c ^ (b | !d))
        .rotate_left(s)
        .wrapping_add(b)
}

#[inline(always)]
pub(super) fn load(block: &[u8]) -> [u32; 16] {
    let mut m = [0u32; 16];
    for (w, c) in m.iter_mut().zip(block.chunks_exact(4)) {
        *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    m
}

/// MD5 compression of one 64-byte block.
#[inline(always)]
pub(super) fn compress(state: &mut [u32; 4], block: &[u8]) {
    compress_words(state, &load(block), |_| {});
}

/// MD5 compression of one block given as words, calling `x(n)` after step `n` (0 to
/// 63): independent work placed there runs in the shadow of MD5's dependency chain.
#[inline(always)]
pub(super) fn compress_words(state: &mut [u32; 4], m: &[u32; 16], mut x: impl FnMut(usize)) {
    // Read the constants through an opaque reference: as literals, LLVM moves their
    // addition after the round function, onto the critical path.
    let k = core::hint::black_box(&K);
    let [mut a, mut b, mut c, mut d] = *state;
    macro_rules! r4 {
        ($f:ident, $i:expr, $g0:expr, $g1:expr, $g2:expr, $g3:expr, $s0:expr, $s1:expr, $s2:expr, $s3:expr) => {
            a = $f(a, b, c, d, m[$g0].wrapping_add(k[$i]), $s0);
            x($i);
            d = $f(d, a, b, c, m[$g1].wrapping_add(k[$i + 1]), $s1);
            x($i + 1);
            c = $f(c, d, a, b, m[$g2].wrapping_add(k[$i + 2]), $s2);
            x($i + 2);
            b = $f(b, c, d, a, m[$g3].wrapping_add(k[$i + 3]), $s3);
            x($i + 3);
        };
    }
    r4!(ff, 0, 0, 1, 2, 3, 7, 12, 17, 22);
    r4!(ff, 4, 4, 5, 6, 7, 7, 12, 17, 22);
    r4!(ff, 8, 8, 9, 10, 11, 7, 12, 17, 22);
    r4!(ff, 12, 12, 13, 14, 15, 7, 12, 17, 22);
    r4!(gg, 16, 1, 6, 11, 0, 5, 9, 14, 20);
    r4!(gg, 20, 5, 10, 15, 4, 5, 9, 14, 20);
    r4!(gg, 24, 9, 14, 3, 8, 5, 9, 14, 20);
    r4!(gg, 28, 13, 2, 7, 12, 5, 9, 14, 20);
    r4!(hh, 32, 5, 8, 11, 14, 4, 11, 16, 23);
    r4!(hh, 36, 1, 4, 7, 10, 4, 11, 16, 23);
    r4!(hh, 40, 13, 0, 3, 6, 4, 11, 16, 23);
    r4!(hh, 44, 9, 12, 15, 2, 4, 11, 16, 23);
    r4!(ii, 48, 0, 7, 14, 5, 6, 10, 15, 21);
    r4!(ii, 52, 12, 3, 10, 1, 6, 10, 15, 21);
    r4!(ii, 56, 8, 15, 6, 13, 6, 10, 15, 21);
    r4!(ii, 60, 4, 11, 2, 9, 6, 10, 15, 21);
    state[0] = state[0].wrapping_add(a);
    state[1] = state[1].wrapping_add(b);
    state[2] = state[2].wrapping_add(c);
    state[3] = state[3].wrapping_add(d);
}

/// Appends the MD5 padding for `total` bytes to the partial block `block[..fill]`
/// and compresses it; returns the digest.
#[inline(always)]
pub(super) fn pad_and_digest(
    mut state: [u32; 4],
    block: &mut [u8; 64],
    fill: usize,
    total: u64,
) -> [u8; 16] {
    block[fill] = 0x80;
    block[fill + 1..].fill(0);
    if fill >= 56 {
        compress(&mut state, block);
        block.fill(0);
    }
    block[56..].copy_from_slice(&(total * 8).to_le_bytes());
    compress(&mut state, block);
    block.zeroize();
    let mut out = [0u8; 16];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    state.zeroize();
    out
}

/// Hashes `prefix || data` from `state`, `done` bytes having been hashed already
/// (a multiple of 64), and returns the digest.
#[inline(always)]
pub(super) fn finish(mut state: [u32; 4], done: u64, prefix: &[u8], data: &[u8]) -> [u8; 16] {
    debug_assert!(prefix.len() < 64);
    let total = done + prefix.len() as u64 + data.len() as u64;
    let mut block = [0u8; 64];
    let mut fill = prefix.len();
    block[..fill].copy_from_slice(prefix);
    let mut rest = data;
    if fill + rest.len() >= 64 {
        let (head, tail) = rest.split_at(64 - fill);
        block[fill..].copy_from_slice(head);
        compress(&mut state, &block);
        let mut blocks = tail.chunks_exact(64);
        for b in &mut blocks {
            compress(&mut state, b);
        }
        rest = blocks.remainder();
        fill = 0;
    }
    block[fill..fill + rest.len()].copy_from_slice(rest);
    fill += rest.len();
    pad_and_digest(state, &mut block, fill, total)
}

/// Streaming MD5 for secret input (the password, the secret H(U:R:P), H(A1)): unlike
/// the `md-5` crate's hasher, its chaining state and partial block are wiped when it
/// is finalized or dropped.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct Md5 {
    state: [u32; 4],
    block: [u8; 64],
    fill: usize,
    total: u64,
}

impl Md5 {
    pub(crate) fn new() -> Self {
        Md5 {
            state: INIT,
            block: [0; 64],
            fill: 0,
            total: 0,
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        let mut rest = data;
        self.total += rest.len() as u64;
        if self.fill > 0 {
            let take = (64 - self.fill).min(rest.len());
            self.block[self.fill..self.fill + take].copy_from_slice(&rest[..take]);
            self.fill += take;
            rest = &rest[take..];
            if self.fill < 64 {
                return;
            }
            compress(&mut self.state, &self.block);
            self.fill = 0;
        }
        let mut blocks = rest.chunks_exact(64);
        for b in &mut blocks {
            compress(&mut self.state, b);
        }
        let tail = blocks.remainder();
        self.block[..tail.len()].copy_from_slice(tail);
        self.fill = tail.len();
    }

    /// The digest; the hasher is wiped (on drop).
    pub(crate) fn finalize(mut self) -> [u8; 16] {
        pad_and_digest(self.state, &mut self.block, self.fill, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::md5::Digest;

    fn md5(data: &[u8]) -> [u8; 16] {
        finish(INIT, 0, &[], data)
    }

    #[test]
    fn rfc1321_vectors() {
        let hex = |b: [u8; 16]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(hex(md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(md5(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            )),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn streaming_md5_matches_the_md5_crate_in_any_chunking() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 31 + 7) as u8).collect();
        for len in (0..=130).chain([191, 192, 193, 300]) {
            let msg = &data[..len];
            let want = ::md5::Md5::digest(msg);
            for chunk in [1, 3, 55, 56, 63, 64, 65, 300] {
                let mut h = super::Md5::new();
                for c in msg.chunks(chunk) {
                    h.update(c);
                }
                h.update(&[]);
                assert_eq!(h.finalize()[..], want[..], "len {len} chunk {chunk}");
            }
        }
    }
}
