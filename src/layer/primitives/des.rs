//! DES (FIPS 46-3) and two-key triple DES (EDE) in CBC mode (FIPS 81), table-driven:
//! tables, key schedule, rounds and CBC for the `des` and `3des` ciphers of the
//! security layer.
//!
//! Written for speed in safe Rust, checked against the `des` crate (random keys,
//! blocks and CBC messages) and against published known-answer vectors:
//!
//! * The eight S-boxes and the P permutation are merged into eight 64-entry `u32`
//!   tables (2 KiB, built at compile time from the FIPS 46-3 tables), so a round is
//!   eight lookups and XORs. The halves are kept in a bit-reversed layout (FIPS bit 1
//!   at bit 0) in which the initial permutation is five masked bit-swaps of two
//!   little-endian words, and the E expansion is two rotations: the six-bit S-box
//!   inputs are bytes of `rotl(R, 1)` and `rotr(R, 3)`, XORed with subkeys packed the
//!   same way.
//! * Triple DES runs its 48 rounds back to back: the final permutation of one stage
//!   and the initial permutation of the next cancel out, leaving a swap of halves.
//! * CBC decryption does not depend on the previous block's decryption, so it runs
//!   two blocks interleaved, which keeps the CPU busy while a lookup is in flight;
//!   CBC encryption is inherently one block after the other.
//!
//! The table lookups are indexed by key-dependent data: a cache-timing side channel,
//! as in OpenSSL's DES (see "Side channels" in the [layer docs](crate::layer)).
//!
//! Key schedules and chaining values are wiped on drop. Lengths not a multiple of 8:
//! the trailing partial block is left untouched (the layer never passes one).
//!
//! Public (hidden) only so that `examples/throughput.rs` can measure the bare primitive; not
//! part of the crate's API.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// FIPS 46-3 S-boxes, row-major (row = b1 b6, column = b2 b3 b4 b5).
const SBOX: [[u8; 64]; 8] = [
    [
        14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, //
        0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8, //
        4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, //
        15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13,
    ],
    [
        15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, //
        3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5, //
        0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, //
        13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9,
    ],
    [
        10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, //
        13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1, //
        13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, //
        1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12,
    ],
    [
        7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, //
        13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9, //
        10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, //
        3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14,
    ],
    [
        2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, //
        14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6, //
        4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, //
        11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3,
    ],
    [
        12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, //
        10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8, //
        9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, //
        4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13,
    ],
    [
        4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, //
        13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6, //
        1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, //
        6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12,
    ],
    [
        13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, //
        1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2, //
        7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, //
        2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11,
    ],
];

/// P: output bit j (1-based) is S-box output bit P[j - 1].
const P: [u8; 32] = [
    16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19,
    13, 30, 6, 22, 11, 4, 25,
];

/// PC-1: bits of the 64-bit key (1 = most significant bit of byte 0) forming C then D.
const PC1: [u8; 56] = [
    57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60,
    52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29,
    21, 13, 5, 28, 20, 12, 4,
];

/// PC-2: bits of C||D (1-based) forming the 48-bit round key.
const PC2: [u8; 48] = [
    14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41, 52,
    31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];

const SHIFTS: [u32; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

/// S-box `i` followed by P, indexed by the six input bits as they sit in the
/// bit-reversed layout (bit t of the index = input bit t + 1 of the S-box), giving
/// the P output in the bit-reversed layout (FIPS bit j at bit j - 1).
const SP: [[u32; 64]; 8] = build_sp();

const fn build_sp() -> [[u32; 64]; 8] {
    let mut sp = [[0u32; 64]; 8];
    let mut i = 0;
    while i < 8 {
        let mut v = 0;
        while v < 64 {
            // bit t of v is S-box input bit t + 1 (b1 .. b6)
            let row = (v & 1) * 2 + ((v >> 5) & 1);
            let col = ((v >> 1) & 1) * 8 + ((v >> 2) & 1) * 4 + ((v >> 3) & 1) * 2 + ((v >> 4) & 1);
            let s = SBOX[i][row * 16 + col] as u32;
            let mut out = 0u32;
            let mut j = 0;
            while j < 32 {
                let src = P[j] as usize; // S-output bit number, 1-based
                if src > 4 * i && src <= 4 * i + 4 {
                    let o = src - 4 * i; // 1..=4, 1 = the S-box's most significant bit
                    out |= ((s >> (4 - o)) & 1) << j;
                }
                j += 1;
            }
            sp[i][v] = out;
            v += 1;
        }
        i += 1;
    }
    sp
}

/// One round key, packed for the round function: byte k of `[0]` holds the six key
/// bits for S-box 2k, byte k of `[1]` those for S-box 2k + 1 (low bits first).
type RoundKey = [u32; 2];

/// The 16 round keys of a single DES key, in encryption order.
fn key_schedule(key: &[u8; 8]) -> [RoundKey; 16] {
    // The key as one word, the C/D halves and their concatenation are key material:
    // all wiped before returning.
    let mut k = u64::from_be_bytes(*key);
    let (mut c, mut d) = (0u32, 0u32);
    for i in 0..28 {
        c = (c << 1) | ((k >> (64 - u32::from(PC1[i]))) & 1) as u32;
        d = (d << 1) | ((k >> (64 - u32::from(PC1[28 + i]))) & 1) as u32;
    }
    k.zeroize();
    let mut cd = 0u64;
    let mut ks = [[0u32; 2]; 16];
    for (round, rk) in ks.iter_mut().enumerate() {
        let s = SHIFTS[round];
        c = ((c << s) | (c >> (28 - s))) & 0x0fff_ffff;
        d = ((d << s) | (d >> (28 - s))) & 0x0fff_ffff;
        cd = (u64::from(c) << 28) | u64::from(d);
        for (m, &src) in PC2.iter().enumerate() {
            let v = ((cd >> (56 - u32::from(src))) & 1) as u32;
            let (group, t) = (m / 6, m % 6);
            rk[group % 2] |= v << (8 * (group / 2) + t);
        }
    }
    c.zeroize();
    d.zeroize();
    cd.zeroize();
    ks
}

#[inline(always)]
fn f(r: u32, k: &RoundKey) -> u32 {
    let x = r.rotate_left(1) ^ k[0];
    let y = r.rotate_right(3) ^ k[1];
    SP[0][(x & 0x3f) as usize]
        ^ SP[2][((x >> 8) & 0x3f) as usize]
        ^ SP[4][((x >> 16) & 0x3f) as usize]
        ^ SP[6][((x >> 24) & 0x3f) as usize]
        ^ SP[1][(y & 0x3f) as usize]
        ^ SP[3][((y >> 8) & 0x3f) as usize]
        ^ SP[5][((y >> 16) & 0x3f) as usize]
        ^ SP[7][((y >> 24) & 0x3f) as usize]
}

/// 16 rounds on (L, R); returns (L16, R16) (the caller swaps).
#[inline(always)]
fn rounds(mut l: u32, mut r: u32, ks: &[RoundKey; 16]) -> (u32, u32) {
    for pair in ks.chunks_exact(2) {
        l ^= f(r, &pair[0]);
        r ^= f(l, &pair[1]);
    }
    (l, r)
}

/// The same, on two independent blocks at once.
#[inline(always)]
fn rounds2(b: [(u32, u32); 2], ks: &[RoundKey; 16]) -> [(u32, u32); 2] {
    let [(mut l0, mut r0), (mut l1, mut r1)] = b;
    for pair in ks.chunks_exact(2) {
        l0 ^= f(r0, &pair[0]);
        l1 ^= f(r1, &pair[0]);
        r0 ^= f(l0, &pair[1]);
        r1 ^= f(l1, &pair[1]);
    }
    [(l0, r0), (l1, r1)]
}

#[inline(always)]
fn swap_bits(a: &mut u32, b: &mut u32, n: u32, m: u32) {
    let t = ((*a >> n) ^ *b) & m;
    *b ^= t;
    *a ^= t << n;
}

/// Initial permutation: the block as two little-endian words -> (L0, R0) in the
/// bit-reversed layout.
#[inline(always)]
fn ip(block: &[u8]) -> (u32, u32) {
    let mut l = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
    let mut r = u32::from_le_bytes([block[4], block[5], block[6], block[7]]);
    swap_bits(&mut r, &mut l, 4, 0x0f0f_0f0f);
    swap_bits(&mut l, &mut r, 16, 0x0000_ffff);
    swap_bits(&mut r, &mut l, 2, 0x3333_3333);
    swap_bits(&mut l, &mut r, 8, 0x00ff_00ff);
    swap_bits(&mut r, &mut l, 1, 0x5555_5555);
    (r, l)
}

/// Final permutation of the pre-output (R16, L16), given as (L16, R16).
#[inline(always)]
fn fp(l16: u32, r16: u32, out: &mut [u8]) {
    let (mut l, mut r) = (l16, r16);
    swap_bits(&mut r, &mut l, 1, 0x5555_5555);
    swap_bits(&mut l, &mut r, 8, 0x00ff_00ff);
    swap_bits(&mut r, &mut l, 2, 0x3333_3333);
    swap_bits(&mut l, &mut r, 16, 0x0000_ffff);
    swap_bits(&mut r, &mut l, 4, 0x0f0f_0f0f);
    out[..4].copy_from_slice(&l.to_le_bytes());
    out[4..8].copy_from_slice(&r.to_le_bytes());
}

/// The key schedules of a block cipher: single DES (one stage) or EDE (three).
trait Schedule {
    /// Rounds between IP and FP: (L0, R0) -> (L16, R16) of the last stage.
    fn encrypt(&self, l: u32, r: u32) -> (u32, u32);
    fn decrypt(&self, l: u32, r: u32) -> (u32, u32);
    fn decrypt2(&self, b: [(u32, u32); 2]) -> [(u32, u32); 2];
}

#[derive(Zeroize, ZeroizeOnDrop)]
struct Single {
    enc: [RoundKey; 16],
    dec: [RoundKey; 16],
}

impl Single {
    fn new(key: &[u8; 8]) -> Self {
        let enc = key_schedule(key);
        let mut dec = enc;
        dec.reverse();
        Single { enc, dec }
    }
}

impl Schedule for Single {
    #[inline(always)]
    fn encrypt(&self, l: u32, r: u32) -> (u32, u32) {
        rounds(l, r, &self.enc)
    }
    #[inline(always)]
    fn decrypt(&self, l: u32, r: u32) -> (u32, u32) {
        rounds(l, r, &self.dec)
    }
    #[inline(always)]
    fn decrypt2(&self, b: [(u32, u32); 2]) -> [(u32, u32); 2] {
        rounds2(b, &self.dec)
    }
}

/// Two-key EDE: E(k1), D(k2), E(k1). Between stages FP then IP cancel, leaving the
/// swap of halves that ends each DES.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Ede2 {
    k1: Single,
    k2: Single,
}

impl Schedule for Ede2 {
    #[inline(always)]
    fn encrypt(&self, l: u32, r: u32) -> (u32, u32) {
        let (l, r) = rounds(l, r, &self.k1.enc);
        let (l, r) = rounds(r, l, &self.k2.dec);
        rounds(r, l, &self.k1.enc)
    }
    #[inline(always)]
    fn decrypt(&self, l: u32, r: u32) -> (u32, u32) {
        let (l, r) = rounds(l, r, &self.k1.dec);
        let (l, r) = rounds(r, l, &self.k2.enc);
        rounds(r, l, &self.k1.dec)
    }
    #[inline(always)]
    fn decrypt2(&self, b: [(u32, u32); 2]) -> [(u32, u32); 2] {
        let sw = |b: [(u32, u32); 2]| [(b[0].1, b[0].0), (b[1].1, b[1].0)];
        let b = rounds2(b, &self.k1.dec);
        let b = rounds2(sw(b), &self.k2.enc);
        rounds2(sw(b), &self.k1.dec)
    }
}

#[inline(always)]
fn xor8(a: &mut [u8], b: &[u8; 8]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= *y;
    }
}

#[inline(always)]
fn cbc_encrypt<S: Schedule>(s: &S, iv: &mut [u8; 8], buf: &mut [u8]) {
    for block in buf.chunks_exact_mut(8) {
        xor8(block, iv);
        let (l, r) = ip(block);
        let (l, r) = s.encrypt(l, r);
        fp(l, r, block);
        iv.copy_from_slice(block);
    }
}

#[inline(always)]
fn cbc_decrypt<S: Schedule>(s: &S, iv: &mut [u8; 8], buf: &mut [u8]) {
    let mut pairs = buf.chunks_exact_mut(16);
    for pair in &mut pairs {
        let mut c0 = [0u8; 8];
        let mut c1 = [0u8; 8];
        c0.copy_from_slice(&pair[..8]);
        c1.copy_from_slice(&pair[8..]);
        let [(l0, r0), (l1, r1)] = s.decrypt2([ip(&c0), ip(&c1)]);
        fp(l0, r0, &mut pair[..8]);
        fp(l1, r1, &mut pair[8..]);
        xor8(&mut pair[..8], iv);
        xor8(&mut pair[8..], &c0);
        *iv = c1;
    }
    let rest = pairs.into_remainder();
    if rest.len() >= 8 {
        let block = &mut rest[..8];
        let mut c = [0u8; 8];
        c.copy_from_slice(block);
        let (l, r) = ip(&c);
        let (l, r) = s.decrypt(l, r);
        fp(l, r, block);
        xor8(block, iv);
        *iv = c;
    }
}

/// DES in CBC mode; the chaining value carries over from call to call.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DesCbc {
    keys: Single,
    iv: [u8; 8],
}

impl DesCbc {
    /// A key (parity bits ignored) and the initial chaining value.
    pub fn new(key: &[u8; 8], iv: [u8; 8]) -> Self {
        DesCbc {
            keys: Single::new(key),
            iv,
        }
    }

    /// Encrypts the whole 8-byte blocks of `buf` in place.
    pub fn encrypt(&mut self, buf: &mut [u8]) {
        cbc_encrypt(&self.keys, &mut self.iv, buf);
    }

    /// Decrypts the whole 8-byte blocks of `buf` in place.
    pub fn decrypt(&mut self, buf: &mut [u8]) {
        cbc_decrypt(&self.keys, &mut self.iv, buf);
    }
}

/// Two-key triple DES (EDE: encrypt k1, decrypt k2, encrypt k1) in CBC mode, the
/// chaining value carrying over from call to call.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct TripleDesCbc {
    keys: Ede2,
    iv: [u8; 8],
}

impl TripleDesCbc {
    /// Keys k1 and k2 (parity bits ignored) and the initial chaining value.
    pub fn new(k1: &[u8; 8], k2: &[u8; 8], iv: [u8; 8]) -> Self {
        TripleDesCbc {
            keys: Ede2 {
                k1: Single::new(k1),
                k2: Single::new(k2),
            },
            iv,
        }
    }

    /// Encrypts the whole 8-byte blocks of `buf` in place.
    pub fn encrypt(&mut self, buf: &mut [u8]) {
        cbc_encrypt(&self.keys, &mut self.iv, buf);
    }

    /// Decrypts the whole 8-byte blocks of `buf` in place.
    pub fn decrypt(&mut self, buf: &mut [u8]) {
        cbc_decrypt(&self.keys, &mut self.iv, buf);
    }
}

/// A CBC cipher whose blocks the MAC loop can interleave with MD5
/// (`stitched`).
pub trait Cbc {
    /// Encrypts the whole 8-byte blocks of `buf` in place.
    fn encrypt_blocks(&mut self, buf: &mut [u8]);
    /// Decrypts the whole 8-byte blocks of `buf` in place.
    fn decrypt_blocks(&mut self, buf: &mut [u8]);
}

impl Cbc for DesCbc {
    #[inline(always)]
    fn encrypt_blocks(&mut self, buf: &mut [u8]) {
        cbc_encrypt(&self.keys, &mut self.iv, buf);
    }
    #[inline(always)]
    fn decrypt_blocks(&mut self, buf: &mut [u8]) {
        cbc_decrypt(&self.keys, &mut self.iv, buf);
    }
}

impl Cbc for TripleDesCbc {
    #[inline(always)]
    fn encrypt_blocks(&mut self, buf: &mut [u8]) {
        cbc_encrypt(&self.keys, &mut self.iv, buf);
    }
    #[inline(always)]
    fn decrypt_blocks(&mut self, buf: &mut [u8]) {
        cbc_decrypt(&self.keys, &mut self.iv, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use des::cipher::generic_array::GenericArray;
    use des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};

    /// xorshift64*: deterministic test data without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn bytes8(&mut self) -> [u8; 8] {
            self.next().to_be_bytes()
        }
    }

    fn ecb_des(key: &[u8; 8], block: [u8; 8]) -> [u8; 8] {
        let mut b = block;
        DesCbc::new(key, [0; 8]).encrypt(&mut b);
        b
    }

    #[test]
    fn sboxes_rows_are_permutations() {
        for s in SBOX {
            for row in s.chunks(16) {
                let mut seen = [false; 16];
                for &v in row {
                    seen[v as usize] = true;
                }
                assert!(seen.iter().all(|&x| x));
            }
        }
    }

    #[test]
    fn known_answers() {
        let h = |s: &str| -> [u8; 8] {
            let v = u64::from_str_radix(s, 16).unwrap();
            v.to_be_bytes()
        };
        // Classic worked example (key 133457799BBCDFF1).
        assert_eq!(
            ecb_des(&h("133457799BBCDFF1"), h("0123456789ABCDEF")),
            h("85E813540F0AB405")
        );
        // Another well-known pair.
        assert_eq!(
            ecb_des(&h("0E329232EA6D0D73"), h("8787878787878787")),
            h("0000000000000000")
        );
        // NIST SP 800-17 variable-plaintext known answer (key 0101..01).
        assert_eq!(
            ecb_des(&h("0101010101010101"), h("8000000000000000")),
            h("95F8A5E5DD31D900")
        );
        // Decryption inverts.
        let mut b = h("85E813540F0AB405");
        DesCbc::new(&h("133457799BBCDFF1"), [0; 8]).decrypt(&mut b);
        assert_eq!(b, h("0123456789ABCDEF"));
    }

    #[test]
    fn single_blocks_match_the_des_crate() {
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        for _ in 0..2000 {
            let (k, k2, p) = (rng.bytes8(), rng.bytes8(), rng.bytes8());
            let reference = des::Des::new(GenericArray::from_slice(&k));
            let mut want = p;
            reference.encrypt_block(GenericArray::from_mut_slice(&mut want));
            assert_eq!(ecb_des(&k, p), want);
            let mut back = want;
            DesCbc::new(&k, [0; 8]).decrypt(&mut back);
            assert_eq!(back, p);

            let mut kk = [0u8; 16];
            kk[..8].copy_from_slice(&k);
            kk[8..].copy_from_slice(&k2);
            let reference = des::TdesEde2::new(GenericArray::from_slice(&kk));
            let mut want = p;
            reference.encrypt_block(GenericArray::from_mut_slice(&mut want));
            let mut got = p;
            TripleDesCbc::new(&k, &k2, [0; 8]).encrypt(&mut got);
            assert_eq!(got, want);
            TripleDesCbc::new(&k, &k2, [0; 8]).decrypt(&mut got);
            assert_eq!(got, p);
        }
    }

    /// CBC with the reference cipher, chaining across calls of random lengths
    /// (odd and even block counts, to cover the two-block decryption path).
    #[test]
    fn cbc_matches_the_des_crate_across_calls() {
        fn reference_cbc<C: BlockEncrypt + BlockDecrypt>(
            c: &C,
            iv: &mut [u8; 8],
            buf: &mut [u8],
            enc: bool,
        ) {
            for block in buf.chunks_exact_mut(8) {
                if enc {
                    xor8(block, iv);
                    c.encrypt_block(GenericArray::from_mut_slice(block));
                    iv.copy_from_slice(block);
                } else {
                    let mut ct = [0u8; 8];
                    ct.copy_from_slice(block);
                    c.decrypt_block(GenericArray::from_mut_slice(block));
                    xor8(block, iv);
                    *iv = ct;
                }
            }
        }
        let mut rng = Rng(42);
        for _ in 0..50 {
            let (k1, k2, iv) = (rng.bytes8(), rng.bytes8(), rng.bytes8());
            let mut kk = [0u8; 16];
            kk[..8].copy_from_slice(&k1);
            kk[8..].copy_from_slice(&k2);
            let rd = des::Des::new(GenericArray::from_slice(&k1));
            let rt = des::TdesEde2::new(GenericArray::from_slice(&kk));
            let (mut d_enc, mut d_dec) = (DesCbc::new(&k1, iv), DesCbc::new(&k1, iv));
            let (mut t_enc, mut t_dec) = (
                TripleDesCbc::new(&k1, &k2, iv),
                TripleDesCbc::new(&k1, &k2, iv),
            );
            let (mut riv_d, mut riv_t) = (iv, iv);
            let (mut riv_d2, mut riv_t2) = (iv, iv);
            for _ in 0..8 {
                let blocks = (rng.next() % 9) as usize;
                let msg: Vec<u8> = (0..blocks * 8).map(|_| rng.next() as u8).collect();

                let mut want = msg.clone();
                reference_cbc(&rd, &mut riv_d, &mut want, true);
                let mut got = msg.clone();
                d_enc.encrypt(&mut got);
                assert_eq!(got, want);
                reference_cbc(&rd, &mut riv_d2, &mut want, false);
                d_dec.decrypt(&mut got);
                assert_eq!(got, msg);
                assert_eq!(want, msg);

                let mut want = msg.clone();
                reference_cbc(&rt, &mut riv_t, &mut want, true);
                let mut got = msg.clone();
                t_enc.encrypt(&mut got);
                assert_eq!(got, want);
                reference_cbc(&rt, &mut riv_t2, &mut want, false);
                t_dec.decrypt(&mut got);
                assert_eq!(got, msg);
            }
        }
    }

    #[test]
    fn partial_trailing_block_is_untouched() {
        let mut b = [7u8; 13];
        DesCbc::new(&[1; 8], [2; 8]).encrypt(&mut b);
        assert_ne!(b[..8], [7; 8]);
        assert_eq!(b[8..], [7; 5]);
    }
}
