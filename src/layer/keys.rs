//! Key derivation (RFC 2831 §2.3, §2.4) and the per-direction crypto state.

use zeroize::{Zeroize, Zeroizing};

use super::primitives::backend::{DesCbc, HmacMd5, Md5, Rc4, TripleDesCbc};
use super::primitives::Pass;
use crate::Cipher;

const SIGN_C2S: &[u8] = b"Digest session key to client-to-server signing key magic constant";
const SIGN_S2C: &[u8] = b"Digest session key to server-to-client signing key magic constant";
const SEAL_C2S: &[u8] = b"Digest H(A1) to client-to-server sealing key magic constant";
const SEAL_S2C: &[u8] = b"Digest H(A1) to server-to-client sealing key magic constant";

/// Direction of traffic a key set protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    ClientToServer,
    ServerToClient,
}

fn md5_concat(a: &[u8], b: &[u8]) -> Zeroizing<[u8; 16]> {
    let mut h = Md5::new();
    h.update(a);
    h.update(b);
    Zeroizing::new(h.finalize())
}

/// Ki for one direction: MD5(H(A1) || signing constant).
pub(crate) fn integrity_key(ha1: &[u8; 16], dir: Direction) -> Zeroizing<[u8; 16]> {
    let magic = match dir {
        Direction::ClientToServer => SIGN_C2S,
        Direction::ServerToClient => SIGN_S2C,
    };
    md5_concat(ha1, magic)
}

/// Kc for one direction: MD5(H(A1)[..n] || sealing constant).
pub(crate) fn confidentiality_key(
    ha1: &[u8; 16],
    cipher: Cipher,
    dir: Direction,
) -> Zeroizing<[u8; 16]> {
    let magic = match dir {
        Direction::ClientToServer => SEAL_C2S,
        Direction::ServerToClient => SEAL_S2C,
    };
    md5_concat(&ha1[..cipher.key_derivation_len()], magic)
}

/// Spreads 56 key bits over 8 bytes, 7 bits per byte in the high bits; the low bit of
/// each byte is set to odd parity (DES ignores it, but it keeps the key canonical).
pub(crate) fn des_key(seven: &[u8]) -> Zeroizing<[u8; 8]> {
    debug_assert_eq!(seven.len(), 7);
    let mut bits: u64 = 0;
    for &b in seven {
        bits = (bits << 8) | u64::from(b);
    }
    let mut out = Zeroizing::new([0u8; 8]);
    for (i, o) in out.iter_mut().enumerate() {
        let seven_bits = ((bits >> (49 - 7 * i)) & 0x7f) as u8;
        let b = seven_bits << 1;
        *o = b | ((b.count_ones() as u8 & 1) ^ 1);
    }
    bits.zeroize();
    out
}

/// A keyed HMAC-MD5 whose inner/outer states are computed once (wiped on drop).
pub(crate) struct MacKey(HmacMd5);

impl MacKey {
    pub(crate) fn new(ki: &[u8; 16]) -> Self {
        MacKey(HmacMd5::new(ki))
    }

    /// First 10 bytes of HMAC-MD5(Ki, seq || msg).
    #[inline]
    pub(crate) fn mac10(&self, seq: u32, msg: &[u8]) -> [u8; 10] {
        self.0.mac10(seq, msg)
    }

    /// The keyed HMAC-MD5, for the MAC loops stitched with a cipher.
    #[inline]
    pub(crate) fn hmac(&self) -> &HmacMd5 {
        &self.0
    }

    /// First 10 bytes of HMAC-MD5(Ki, seq || msg), appending `msg` to `out` in the
    /// same pass (see [`HmacMd5::mac10_append`]).
    #[inline]
    pub(crate) fn mac10_append(&self, seq: u32, msg: &[u8], out: &mut Vec<u8>) -> [u8; 10] {
        self.0.mac10_append(seq, msg, out)
    }

    /// MAC of `buf[..msg_len]` and RC4 over all of `buf` in one pass (see
    /// [`HmacMd5::mac10_rc4`]).
    #[inline]
    pub(crate) fn mac10_rc4(
        &self,
        seq: u32,
        rc4: &mut Rc4,
        buf: &mut [u8],
        msg_len: usize,
        pass: Pass,
    ) -> [u8; 10] {
        self.0.mac10_rc4(seq, rc4, buf, msg_len, pass)
    }
}

/// Confidentiality state for one direction. RC4 keystream and CBC chaining both
/// continue across messages.
// Inline on purpose: one CipherState per direction, no extra allocation per context.
#[allow(clippy::large_enum_variant)]
pub(crate) enum CipherState {
    Rc4(Rc4),
    Des(DesCbc),
    TripleDes(TripleDesCbc),
}

impl CipherState {
    pub(crate) fn new(cipher: Cipher, kc: &[u8; 16]) -> Self {
        let mut iv = [0u8; 8];
        iv.copy_from_slice(&kc[8..16]);
        let state = match cipher {
            Cipher::Rc4 | Cipher::Rc4_40 | Cipher::Rc4_56 => CipherState::Rc4(Rc4::new(kc)),
            Cipher::Des => CipherState::Des(DesCbc::new(&des_key(&kc[..7]), iv)),
            Cipher::TripleDes => CipherState::TripleDes(TripleDesCbc::new(
                &des_key(&kc[..7]),
                &des_key(&kc[7..14]),
                iv,
            )),
        };
        iv.zeroize();
        state
    }

    /// Encrypts `buf` in place. For DES ciphers `buf.len()` is a multiple of 8.
    #[inline]
    pub(crate) fn encrypt(&mut self, buf: &mut [u8]) {
        match self {
            CipherState::Rc4(rc4) => rc4.apply_keystream(buf),
            CipherState::Des(c) => c.encrypt(buf),
            CipherState::TripleDes(c) => c.encrypt(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use md5::Md5;

    #[test]
    fn des_key_spreads_bits() {
        // 56 one-bits: every byte has seven ones in the high bits, parity bit 0 (odd).
        assert_eq!(*des_key(&[0xff; 7]), [0xfe; 8]);
        // all zero: parity bit set to make each byte odd.
        assert_eq!(*des_key(&[0; 7]), [0x01; 8]);
        // first bit only
        assert_eq!(
            *des_key(&[0x80, 0, 0, 0, 0, 0, 0]),
            [0x80, 1, 1, 1, 1, 1, 1, 1]
        );
        // last bit only
        assert_eq!(
            *des_key(&[0, 0, 0, 0, 0, 0, 0x01]),
            [1, 1, 1, 1, 1, 1, 1, 0x02]
        );
    }

    #[test]
    fn hmac_md5_rfc2202_case_2() {
        // RFC 2202 test case 2 (key "Jefe"): checks that cloning the keyed state works.
        let mut m = <Hmac<Md5> as Mac>::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        let out = m.finalize().into_bytes();
        assert_eq!(
            out[..],
            [
                0x75, 0x0c, 0x78, 0x3e, 0x6a, 0xb0, 0xb5, 0x03, 0xea, 0xa8, 0x6e, 0x31, 0x0a, 0x5d,
                0xb7, 0x38
            ]
        );
    }
}
