//! HMAC-MD5 for the security layer's per-message MAC, with the keyed inner and outer
//! states computed once per session.
//!
//! Per message the MAC is `HMAC-MD5(Ki, seq || msg)`: the inner hash continues from
//! the precomputed state over `seq || msg` and its padding, the outer hash is one
//! block. No hasher objects are cloned and message blocks are compressed straight
//! from the caller's slice.
//!
//! The MD5 compression function (RFC 1321) is written for the latency of its
//! dependency chain, which is what bounds MD5 on an out-of-order CPU: in every step
//! `a + K[i] + M[g]` and the parts of the round function that do not involve the
//! newest word `b` are computed off the critical path; `G(b,c,d) = (b & d) | (c & !d)`
//! is computed as `(c & !d) + (b & d)` (the two terms never share a bit), so only an
//! AND and an ADD wait for `b`. Checked against the `md-5` and `hmac` crates and the
//! RFC 1321 / RFC 2202 vectors.
//!
//! Public only so that `examples/throughput.rs` can measure the bare primitive; not
//! part of the crate's API.

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::des_core::Cbc;
use super::rc4_core::{next as rc4_next, Rc4};

const K: [u32; 64] = [
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

const STITCH: bool = true;
const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

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
fn load(block: &[u8]) -> [u32; 16] {
    let mut m = [0u32; 16];
    for (w, c) in m.iter_mut().zip(block.chunks_exact(4)) {
        *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    m
}

/// MD5 compression of one 64-byte block.
#[inline(always)]
fn compress(state: &mut [u32; 4], block: &[u8]) {
    compress_words(state, &load(block), |_| {});
}

/// MD5 compression of one block given as words, calling `x(n)` after step `n` (0 to
/// 63): independent work placed there runs in the shadow of MD5's dependency chain.
#[inline(always)]
fn compress_words(state: &mut [u32; 4], m: &[u32; 16], mut x: impl FnMut(usize)) {
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

/// One block of MD5 with 64 bytes of RC4 keystream XORed into `target` alongside.
#[inline(always)]
fn compress_rc4(state: &mut [u32; 4], m: &[u32; 16], rc4: &mut Rc4, target: &mut [u8]) {
    let target: &mut [u8; 64] = match target.try_into() {
        Ok(t) => t,
        Err(_) => return debug_assert!(false, "target is 64 bytes"),
    };
    let (mut i, mut j) = (rc4.i, rc4.j);
    let s = &mut rc4.s;
    // Keystream bytes are gathered into a word and XORed into the target eight at a
    // time: byte stores followed by the next block's word loads of the same bytes
    // would stall store-to-load forwarding.
    let mut acc = 0u64;
    compress_words(state, m, |n| {
        acc |= u64::from(rc4_next(s, &mut i, &mut j)) << (8 * (n & 7));
        if n & 7 == 7 {
            let w = &mut target[n - 7..=n];
            let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) ^ acc;
            w.copy_from_slice(&v.to_le_bytes());
            acc = 0;
        }
    });
    rc4.i = i;
    rc4.j = j;
}

/// One block of MD5 with the CBC cipher run over `target` alongside: sealing encrypts
/// one 8-byte block after every 8 steps; opening decrypts two blocks (interleaved)
/// after every 16.
#[inline(always)]
fn compress_cbc<C: Cbc>(
    state: &mut [u32; 4],
    m: &[u32; 16],
    c: &mut C,
    target: &mut [u8],
    open: bool,
) {
    let target: &mut [u8; 64] = match target.try_into() {
        Ok(t) => t,
        Err(_) => return debug_assert!(false, "target is 64 bytes"),
    };
    if open {
        compress_words(state, m, |n| {
            if n & 15 == 15 {
                c.decrypt_blocks(&mut target[n - 15..=n]);
            }
        });
    } else {
        compress_words(state, m, |n| {
            if n & 7 == 7 {
                c.encrypt_blocks(&mut target[n - 7..=n]);
            }
        });
    }
}

/// Where a MAC computed alongside a CBC cipher stands: the inner state after the
/// first `hashed` bytes of the buffer (`first`: no block hashed yet), and how many
/// bytes the cipher has processed.
pub struct CbcProgress {
    state: [u32; 4],
    hashed: usize,
    first: bool,
    /// Bytes of the buffer already encrypted (sealing) or decrypted (opening); a
    /// multiple of 8.
    pub ciphered: usize,
}

impl Drop for CbcProgress {
    fn drop(&mut self) {
        self.state.zeroize();
    }
}

/// Appends the MD5 padding for `total` bytes to the partial block `block[..fill]`
/// and compresses it; returns the digest.
#[inline(always)]
fn pad_and_digest(mut state: [u32; 4], block: &mut [u8; 64], fill: usize, total: u64) -> [u8; 16] {
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
fn finish(mut state: [u32; 4], done: u64, prefix: &[u8], data: &[u8]) -> [u8; 16] {
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

/// HMAC-MD5 with a 16-byte key, keyed inner and outer states precomputed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct HmacMd5 {
    inner: [u32; 4],
    outer: [u32; 4],
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
        let mut out = [0u8; 10];
        out.copy_from_slice(&full[..10]);
        out
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
        let mut out10 = [0u8; 10];
        out10.copy_from_slice(&full[..10]);
        out10
    }

    /// Hashes `seq || buf[..bound]` in whole MD5 blocks with the CBC cipher running
    /// over `buf` alongside; the caller finishes the MAC with
    /// [`mac_cbc_finish`](Self::mac_cbc_finish).
    ///
    /// * `open == false` (sealing): `buf` is the plaintext message and `bound` its
    ///   length; the cipher trails the hash, encrypting only bytes already loaded,
    ///   in 64-byte steps. `buf[progress.ciphered..]` is left in the clear.
    /// * `open == true` (unsealing): `buf` is ciphertext, a multiple of 8 bytes, and
    ///   `bound` a lower bound of the message length (at most `buf.len()`); the
    ///   cipher runs up to 64 bytes ahead of the hash. `buf[progress.ciphered..]` is
    ///   still encrypted.
    #[inline]
    pub fn mac_cbc<C: Cbc>(
        &self,
        seq: u32,
        c: &mut C,
        buf: &mut [u8],
        bound: usize,
        open: bool,
    ) -> CbcProgress {
        let total_len = buf.len();
        let bound = bound.min(total_len);
        let mut state = self.inner;
        let mut block = [0u8; 64];
        block[..4].copy_from_slice(&seq.to_be_bytes());
        let (mut hashed, mut ciphered) = (0usize, 0usize);
        let mut first = true;
        loop {
            let end = if first { 60 } else { hashed + 64 };
            if end > bound {
                break;
            }
            if open && ciphered < end {
                // only before the first block: decrypt whole blocks up to `end`
                let to = end.div_ceil(8) * 8;
                c.decrypt_blocks(&mut buf[ciphered..to]);
                ciphered = to;
            }
            let m = if first {
                block[4..].copy_from_slice(&buf[..60]);
                load(&block)
            } else {
                load(&buf[hashed..end])
            };
            let ok = if open {
                ciphered + 64 <= total_len
            } else {
                ciphered + 64 <= end
            };
            if ok {
                compress_cbc(&mut state, &m, c, &mut buf[ciphered..ciphered + 64], open);
                ciphered += 64;
            } else {
                compress_words(&mut state, &m, |_| {});
            }
            hashed = end;
            first = false;
        }
        block.zeroize();
        CbcProgress {
            state,
            hashed,
            first,
            ciphered,
        }
    }

    /// The first 10 bytes of HMAC-MD5(key, seq || msg), where `p` has hashed the
    /// beginning of `msg` (from [`mac_cbc`](Self::mac_cbc) over a buffer starting
    /// with `msg`, with `bound <= msg.len()`).
    #[inline]
    pub fn mac_cbc_finish(&self, p: &CbcProgress, seq: u32, msg: &[u8]) -> [u8; 10] {
        let rest = msg.get(p.hashed..).unwrap_or_default();
        let mut ih = if p.first {
            finish(self.inner, 64, &seq.to_be_bytes(), msg)
        } else {
            finish(p.state, 64 + 4 + p.hashed as u64, &[], rest)
        };
        let full = finish(self.outer, 64, &ih, &[]);
        ih.zeroize();
        let mut out = [0u8; 10];
        out.copy_from_slice(&full[..10]);
        out
    }

    /// MAC and RC4 in one pass. The MAC is the first 10 bytes of
    /// HMAC-MD5(key, seq || buf[..msg_len]) over the *plaintext*; the whole of `buf`
    /// goes through RC4.
    ///
    /// * `open == false` (sealing): `buf` is the plaintext message (`msg_len` is its
    ///   length); on return it is encrypted. RC4 trails the hash.
    /// * `open == true` (unsealing): `buf` is the ciphertext of message and MAC; on
    ///   return it is decrypted, and the MAC of its first `msg_len` bytes is
    ///   returned. RC4 runs ahead of the hash.
    ///
    /// Same result as `mac10` plus `apply_keystream`, in the right order.
    #[inline]
    pub fn mac10_rc4(
        &self,
        seq: u32,
        rc4: &mut Rc4,
        buf: &mut [u8],
        msg_len: usize,
        open: bool,
    ) -> [u8; 10] {
        let total_len = buf.len();
        debug_assert!(msg_len <= total_len);
        let msg_len = msg_len.min(total_len);
        let mut state = self.inner;
        let mut block = [0u8; 64];
        block[..4].copy_from_slice(&seq.to_be_bytes());
        // bytes of buf hashed so far, bytes of buf through RC4 so far
        let (mut hashed, mut ciphered) = (0usize, 0usize);
        let mut first = true;
        loop {
            let (start, end) = if first {
                (0, 60)
            } else {
                (hashed, hashed + 64)
            };
            if end > msg_len {
                break;
            }
            if open && ciphered < end {
                rc4.apply_keystream(&mut buf[ciphered..end]);
                ciphered = end;
            }
            let m = if first {
                block[4..].copy_from_slice(&buf[..60]);
                load(&block)
            } else {
                load(&buf[start..end])
            };
            // Sealing: RC4 may only touch bytes already loaded (< end).
            // Unsealing: RC4 decrypts the next 64 bytes, if all are there.
            let (lo, ok) = if open {
                (ciphered, ciphered + 64 <= total_len)
            } else {
                (ciphered, ciphered + 64 <= end)
            };
            if ok && STITCH {
                compress_rc4(&mut state, &m, rc4, &mut buf[lo..lo + 64]);
                ciphered += 64;
            } else {
                compress_words(&mut state, &m, |_| {});
            }
            hashed = end;
            first = false;
        }
        if open && ciphered < msg_len {
            rc4.apply_keystream(&mut buf[ciphered..msg_len]);
            ciphered = msg_len;
        }
        // the partial last block (and, if fewer than 60 bytes, the sequence number)
        let fill = if first { 4 } else { 0 };
        let tail = &buf[hashed..msg_len];
        block[fill..fill + tail.len()].copy_from_slice(tail);
        let mut ih = pad_and_digest(
            state,
            &mut block,
            fill + tail.len(),
            64 + 4 + msg_len as u64,
        );
        rc4.apply_keystream(&mut buf[ciphered..]);
        let full = finish(self.outer, 64, &ih, &[]);
        ih.zeroize();
        let mut out = [0u8; 10];
        out.copy_from_slice(&full[..10]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use md5::{Digest, Md5};

    fn md5(data: &[u8]) -> [u8; 16] {
        finish(INIT, 0, &[], data)
    }

    #[test]
    fn mac10_rc4_equals_mac_then_rc4_both_ways() {
        let key = HmacMd5::new(b"fedcba9876543210");
        let data: Vec<u8> = (0..700u32).map(|i| (i * 31 + 5) as u8).collect();
        let mut tx_ref = Rc4::new(&[7; 16]);
        let mut tx = tx_ref.clone();
        let mut rx = tx_ref.clone();
        for (n, len) in (0..=260).chain([500, 575, 576, 577, 700]).enumerate() {
            let seq = n as u32;
            let msg = &data[..len];
            // reference: MAC then encrypt msg || mac
            let mac = key.mac10(seq, msg);
            let mut want = msg.to_vec();
            want.extend_from_slice(&mac);
            tx_ref.apply_keystream(&mut want);
            // stitched seal
            let mut got = msg.to_vec();
            let mac2 = key.mac10_rc4(seq, &mut tx, &mut got, len, false);
            assert_eq!(mac2, mac, "seal mac, len {len}");
            let mut tail = mac2;
            tx.apply_keystream(&mut tail);
            got.extend_from_slice(&tail);
            assert_eq!(got, want, "seal ciphertext, len {len}");
            // stitched open
            let mac3 = key.mac10_rc4(seq, &mut rx, &mut got, len, true);
            assert_eq!(mac3, mac, "open mac, len {len}");
            assert_eq!(&got[..len], msg);
            assert_eq!(got[len..], mac[..]);
        }
    }

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

    /// Stitched MAC + CBC (both directions, CBC state carried across messages)
    /// against MAC then pad then encrypt, at every length 0..=300 and around block
    /// edges, from random offsets.
    fn check_mac_cbc<C: Cbc>(mut tx_ref: C, mut tx: C, mut rx: C) {
        let key = HmacMd5::new(b"fedcba9876543210");
        let data: Vec<u8> = (0..800u32).map(|i| (i * 89 + 3) as u8).collect();
        let mut rng = 0x9e37_79b9u32;
        for len in (0..=300).chain([511, 512, 513, 575, 576, 577, 640, 700]) {
            rng = rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let off = (rng >> 20) as usize % (data.len() - len + 1);
            let pre = (rng >> 4) as usize % 13;
            let seq = rng >> 3;
            let msg = &data[off..off + len];
            let pad = 8 - (len + 10) % 8;
            // reference
            let mac = key.mac10(seq, msg);
            let mut want = msg.to_vec();
            want.resize(len + pad, pad as u8);
            want.extend_from_slice(&mac);
            tx_ref.encrypt_blocks(&mut want);
            // stitched seal, into a buffer that already holds `pre` bytes
            let mut out = vec![0xaa; pre];
            out.extend_from_slice(msg);
            let p = key.mac_cbc(seq, &mut tx, &mut out[pre..], len, false);
            assert_eq!(p.ciphered % 8, 0);
            let mac2 = key.mac_cbc_finish(&p, seq, msg);
            assert_eq!(mac2, mac, "seal mac, len {len}");
            out.resize(pre + len + pad, pad as u8);
            out.extend_from_slice(&mac2);
            tx.encrypt_blocks(&mut out[pre + p.ciphered..]);
            assert_eq!(&out[..pre], &vec![0xaa; pre][..]);
            assert_eq!(&out[pre..], &want[..], "seal ciphertext, len {len}");
            // stitched open
            let mut body = want.clone();
            let data_len = body.len() - 10;
            let p = key.mac_cbc(seq, &mut rx, &mut body, data_len.saturating_sub(8), true);
            assert_eq!(p.ciphered % 8, 0);
            rx.decrypt_blocks(&mut body[p.ciphered..]);
            assert_eq!(&body[..len], msg, "open plaintext, len {len}");
            assert_eq!(&body[data_len..], &mac[..]);
            assert_eq!(
                key.mac_cbc_finish(&p, seq, &body[..len]),
                mac,
                "open mac, len {len}"
            );
        }
    }

    #[test]
    fn mac_cbc_equals_mac_then_des_both_ways() {
        use crate::layer::des_core::{DesCbc, TripleDesCbc};
        let (k1, k2, iv) = (
            *b"\x13\x34\x57\x79\x9b\xbc\xdf\xf1",
            [0x0e; 8],
            *b"ivivivIV",
        );
        let des = || DesCbc::new(&k1, iv);
        check_mac_cbc(des(), des(), des());
        let tdes = || TripleDesCbc::new(&k1, &k2, iv);
        check_mac_cbc(tdes(), tdes(), tdes());
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
            assert_eq!(md5(msg)[..], Md5::digest(msg)[..], "md5 len {len}");
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

    #[test]
    fn streaming_md5_matches_the_md5_crate_in_any_chunking() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 31 + 7) as u8).collect();
        for len in (0..=130).chain([191, 192, 193, 300]) {
            let msg = &data[..len];
            let want = Md5::digest(msg);
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
