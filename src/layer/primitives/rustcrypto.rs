//! The `rustcrypto` backend: MD5 (RFC 1321), HMAC-MD5 (RFC 2104), RC4 and DES /
//! two-key triple DES in CBC mode (FIPS 46-3, FIPS 81) on the RustCrypto crates
//! `md-5`, `hmac`, `rc4` and `des`, behind the same interface as this module's own
//! primitives.
//!
//! No stitching: the one-pass loops become MAC then cipher (sealing) and cipher then
//! MAC (unsealing), two passes over the message; CBC chaining is done here over the
//! `des` crate's block functions (no allocation). Results are byte for byte those of
//! the own primitives (the whole layer test suite runs with both).
//!
//! Key hygiene: the `des` and `rc4` crates wipe their key schedules and RC4 state on
//! drop (their `zeroize` features), and the CBC chaining value kept here is wiped on
//! drop. The `md-5` and `hmac` crates have no such feature: the MD5 states that
//! absorb the password, the secret or H(A1), and the keyed HMAC-MD5 inner and outer
//! states, are *not* wiped when dropped (doing it from outside would need `unsafe`).
//! The temporary copies made here (the padded HMAC key, each message's full MAC) are
//! wiped.

use ::des::cipher::generic_array::GenericArray;
use ::des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit, StreamCipher};
use ::hmac::{Hmac, Mac};
use ::md5::Digest;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::des::Cbc;
use super::{truncate_mac, Pass};

/// Streaming MD5 (the `md-5` crate's hasher; not wiped, see the module docs).
pub(crate) struct Md5(::md5::Md5);

impl Md5 {
    pub(crate) fn new() -> Self {
        Md5(::md5::Md5::new())
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub(crate) fn finalize(self) -> [u8; 16] {
        self.0.finalize().into()
    }
}

/// HMAC-MD5 with a 16-byte key, the keyed state kept and cloned per message.
#[derive(Clone)]
pub(crate) struct HmacMd5(Hmac<::md5::Md5>);

/// Where the (unstitched) CBC MAC stands: nothing done yet.
pub(crate) struct CbcProgress {
    /// Bytes of the buffer already encrypted or decrypted: always 0 here, the
    /// caller runs the cipher over the whole buffer.
    pub(crate) ciphered: usize,
}

impl HmacMd5 {
    pub(crate) fn new(key: &[u8; 16]) -> Self {
        // HMAC pads a short key with zeros to the block size: keying with the
        // 64-byte padded key is the same MAC, and infallible.
        let mut block = [0u8; 64];
        block[..16].copy_from_slice(key);
        let mac = <Hmac<::md5::Md5> as KeyInit>::new(GenericArray::from_slice(&block));
        block.zeroize();
        HmacMd5(mac)
    }

    /// The first 10 bytes of HMAC-MD5(key, seq || msg), seq big-endian.
    pub(crate) fn mac10(&self, seq: u32, msg: &[u8]) -> [u8; 10] {
        let mut m = self.0.clone();
        m.update(&seq.to_be_bytes());
        m.update(msg);
        let mut full: [u8; 16] = m.finalize().into_bytes().into();
        let out = truncate_mac(&full);
        full.zeroize();
        out
    }

    /// `out.extend_from_slice(msg)`, then [`mac10`](Self::mac10).
    pub(crate) fn mac10_append(&self, seq: u32, msg: &[u8], out: &mut Vec<u8>) -> [u8; 10] {
        out.extend_from_slice(msg);
        self.mac10(seq, msg)
    }

    /// Nothing: the caller runs the cipher over the whole buffer and
    /// [`mac_cbc_finish`](Self::mac_cbc_finish) MACs the whole message.
    pub(crate) fn mac_cbc<C: Cbc>(
        &self,
        _seq: u32,
        _c: &mut C,
        _buf: &mut [u8],
        _bound: usize,
        _pass: Pass,
    ) -> CbcProgress {
        CbcProgress { ciphered: 0 }
    }

    /// The first 10 bytes of HMAC-MD5(key, seq || msg).
    pub(crate) fn mac_cbc_finish(&self, _p: &CbcProgress, seq: u32, msg: &[u8]) -> [u8; 10] {
        self.mac10(seq, msg)
    }

    /// The MAC of the plaintext `buf[..msg_len]`, and RC4 over the whole of `buf`:
    /// MAC then RC4 when sealing, RC4 then MAC when opening.
    pub(crate) fn mac10_rc4(
        &self,
        seq: u32,
        rc4: &mut Rc4,
        buf: &mut [u8],
        msg_len: usize,
        pass: Pass,
    ) -> [u8; 10] {
        let msg_len = msg_len.min(buf.len());
        match pass {
            Pass::Seal => {
                let mac = self.mac10(seq, &buf[..msg_len]);
                rc4.apply_keystream(buf);
                mac
            }
            Pass::Open => {
                rc4.apply_keystream(buf);
                self.mac10(seq, &buf[..msg_len])
            }
        }
    }
}

/// RC4 with a 16-byte key (the `rc4` crate; its state is wiped on drop).
pub(crate) struct Rc4(::rc4::Rc4<::rc4::consts::U16>);

impl Rc4 {
    pub(crate) fn new(key: &[u8; 16]) -> Self {
        Rc4(::rc4::Rc4::new(GenericArray::from_slice(key)))
    }

    pub(crate) fn apply_keystream(&mut self, buf: &mut [u8]) {
        self.0.apply_keystream(buf);
    }
}

/// CBC over a block cipher of the `des` crate; the chaining value is wiped on drop.
/// Lengths not a multiple of 8: the trailing partial block is left untouched.
struct CbcOver<B> {
    cipher: B,
    iv: [u8; 8],
}

impl<B> Drop for CbcOver<B> {
    fn drop(&mut self) {
        self.iv.zeroize();
    }
}

impl<B: BlockEncrypt + BlockDecrypt<BlockSize = ::des::cipher::consts::U8>> CbcOver<B> {
    fn encrypt(&mut self, buf: &mut [u8]) {
        for block in buf.chunks_exact_mut(8) {
            for (b, v) in block.iter_mut().zip(&self.iv) {
                *b ^= v;
            }
            self.cipher
                .encrypt_block(GenericArray::from_mut_slice(block));
            self.iv.copy_from_slice(block);
        }
    }

    fn decrypt(&mut self, buf: &mut [u8]) {
        let mut next = [0u8; 8];
        for block in buf.chunks_exact_mut(8) {
            next.copy_from_slice(block);
            self.cipher
                .decrypt_block(GenericArray::from_mut_slice(block));
            for (b, v) in block.iter_mut().zip(&self.iv) {
                *b ^= v;
            }
            self.iv = next;
        }
        next.zeroize();
    }
}

/// DES-CBC (the `des` crate's `Des`; key schedule wiped on drop).
pub(crate) struct DesCbc(CbcOver<::des::Des>);

impl DesCbc {
    pub(crate) fn new(key: &[u8; 8], iv: [u8; 8]) -> Self {
        DesCbc(CbcOver {
            cipher: ::des::Des::new(GenericArray::from_slice(key)),
            iv,
        })
    }

    pub(crate) fn encrypt(&mut self, buf: &mut [u8]) {
        self.0.encrypt(buf);
    }
}

/// Two-key triple DES (EDE) in CBC mode (the `des` crate's `TdesEde2`; key schedule
/// wiped on drop).
pub(crate) struct TripleDesCbc(CbcOver<::des::TdesEde2>);

impl TripleDesCbc {
    pub(crate) fn new(k1: &[u8; 8], k2: &[u8; 8], iv: [u8; 8]) -> Self {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(k1);
        key[8..].copy_from_slice(k2);
        let cipher = ::des::TdesEde2::new(GenericArray::from_slice(&key));
        key.zeroize();
        TripleDesCbc(CbcOver { cipher, iv })
    }

    pub(crate) fn encrypt(&mut self, buf: &mut [u8]) {
        self.0.encrypt(buf);
    }
}

impl Cbc for DesCbc {
    fn encrypt_blocks(&mut self, buf: &mut [u8]) {
        self.0.encrypt(buf);
    }
    fn decrypt_blocks(&mut self, buf: &mut [u8]) {
        self.0.decrypt(buf);
    }
}

impl Cbc for TripleDesCbc {
    fn encrypt_blocks(&mut self, buf: &mut [u8]) {
        self.0.encrypt(buf);
    }
    fn decrypt_blocks(&mut self, buf: &mut [u8]) {
        self.0.decrypt(buf);
    }
}

// The crates' own wiping, checked at compile time.
const _: fn() = || {
    fn wiped<T: ZeroizeOnDrop>() {}
    wiped::<::des::Des>();
    wiped::<::des::TdesEde2>();
    wiped::<::rc4::Rc4<::rc4::consts::U16>>();
};

#[cfg(test)]
mod tests {
    //! The backend against this crate's own primitives, which are checked against
    //! published vectors in their own files.
    use super::*;

    #[test]
    fn same_results_as_the_own_primitives() {
        let data: Vec<u8> = (0..700u32).map(|i| (i * 131 + 7) as u8).collect();
        let key = *b"0123456789abcdef";
        let (theirs, ours) = (HmacMd5::new(&key), super::super::hmac::HmacMd5::new(&key));
        let mut rc4 = (Rc4::new(&key), super::super::rc4::Rc4::new(&key));
        let (k1, k2, iv) = (
            *b"\x13\x34\x57\x79\x9b\xbc\xdf\xf1",
            [0x0e; 8],
            *b"ivivivIV",
        );
        let mut des = (
            DesCbc::new(&k1, iv),
            super::super::des::DesCbc::new(&k1, iv),
        );
        let mut tdes = (
            TripleDesCbc::new(&k1, &k2, iv),
            super::super::des::TripleDesCbc::new(&k1, &k2, iv),
        );
        for len in (0..=130).chain([511, 512, 513, 700]) {
            let msg = &data[..len];
            let mut h = Md5::new();
            h.update(msg);
            let mut o = super::super::md5::Md5::new();
            o.update(msg);
            assert_eq!(h.finalize(), o.finalize(), "md5 len {len}");
            assert_eq!(theirs.mac10(len as u32, msg), ours.mac10(len as u32, msg));
            let (mut a, mut b) = (msg.to_vec(), msg.to_vec());
            rc4.0.apply_keystream(&mut a);
            rc4.1.apply_keystream(&mut b);
            assert_eq!(a, b, "rc4 len {len}");
            let whole = len / 8 * 8;
            for (a, b) in [
                (&mut des.0 as &mut dyn Cbc, &mut des.1 as &mut dyn Cbc),
                (&mut tdes.0, &mut tdes.1),
            ] {
                let (mut x, mut y) = (msg.to_vec(), msg.to_vec());
                a.encrypt_blocks(&mut x);
                b.encrypt_blocks(&mut y);
                assert_eq!(x, y, "cbc encrypt len {len}");
                assert_eq!(x[whole..], msg[whole..], "partial block untouched");
                a.decrypt_blocks(&mut x);
                b.decrypt_blocks(&mut y);
                assert_eq!(x, y, "cbc decrypt len {len}");
            }
        }
    }
}
