//! RC4 (ARCFOUR; known-answer vectors from RFC 6229) with a 16-byte key: the
//! layer's `rc4`, `rc4-56` and `rc4-40` all key RC4 with the 16 bytes of Kc.
//! Checked against the `rc4` crate.
//!
//! Kept in this crate so that the keystream can be generated inside the MD5
//! compression loop (`stitched`): MD5 and RC4 are each
//! bound by their own serial dependency chain, and interleaving them lets an
//! out-of-order CPU run both chains at once.
//!
//! Public (hidden) only so that `examples/throughput.rs` can measure the bare primitive; not
//! part of the crate's API.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// RC4 state; the keystream continues from call to call. Wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Rc4 {
    pub(crate) s: [u8; 256],
    pub(crate) i: u8,
    pub(crate) j: u8,
}

impl Rc4 {
    /// Key schedule (KSA) for a 16-byte key.
    pub fn new(key: &[u8; 16]) -> Self {
        let mut s = [0u8; 256];
        for (n, v) in s.iter_mut().enumerate() {
            *v = n as u8;
        }
        let mut j = 0u8;
        for n in 0..256 {
            j = j.wrapping_add(s[n]).wrapping_add(key[n % 16]);
            s.swap(n, j as usize);
        }
        j.zeroize();
        Rc4 { s, i: 0, j: 0 }
    }

    /// XORs the keystream into `buf`.
    #[inline]
    pub fn apply_keystream(&mut self, buf: &mut [u8]) {
        let (mut i, mut j) = (self.i, self.j);
        for b in buf {
            *b ^= next(&mut self.s, &mut i, &mut j);
        }
        self.i = i;
        self.j = j;
    }
}

/// One keystream byte (PRGA step).
#[inline(always)]
pub(crate) fn next(s: &mut [u8; 256], i: &mut u8, j: &mut u8) -> u8 {
    *i = i.wrapping_add(1);
    let si = s[*i as usize];
    *j = j.wrapping_add(si);
    let sj = s[*j as usize];
    s[*i as usize] = sj;
    s[*j as usize] = si;
    s[si.wrapping_add(sj) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rc4::{KeyInit, StreamCipher};

    #[test]
    fn matches_the_rc4_crate_across_calls() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20 {
            let mut key = [0u8; 16];
            key.iter_mut().for_each(|k| *k = rnd() as u8);
            let mut ours = Rc4::new(&key);
            let mut theirs = rc4::Rc4::<rc4::consts::U16>::new(&key.into());
            for _ in 0..10 {
                let len = (rnd() % 300) as usize;
                let mut a: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
                let mut b = a.clone();
                ours.apply_keystream(&mut a);
                theirs.apply_keystream(&mut b);
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn known_keystream() {
        // RFC 6229, key 0x0102..10 (16 bytes), keystream offset 0 (also `openssl enc -rc4`).
        let key: [u8; 16] = core::array::from_fn(|n| n as u8 + 1);
        let mut ks = [0u8; 16];
        Rc4::new(&key).apply_keystream(&mut ks);
        assert_eq!(
            ks,
            [
                0x9a, 0xc7, 0xcc, 0x9a, 0x60, 0x9d, 0x1e, 0xf7, 0xb2, 0x93, 0x28, 0x99, 0xcd, 0xe4,
                0x1b, 0x97
            ]
        );
    }
}
