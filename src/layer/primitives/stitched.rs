//! The one-pass loops of the security layer: HMAC-MD5 (RFC 2104) stitched with RC4
//! or with DES/3DES in CBC mode (FIPS 46-3, FIPS 81).
//!
//! MD5, RC4 and CBC encryption are each bound by their own serial dependency chain;
//! running the cipher inside the MD5 compression loop ([`compress_words`]'s hook)
//! lets an out-of-order CPU run both chains at once. Each loop gives the same result
//! as the MAC and the cipher run one after the other in the right order (checked
//! below against exactly that).

use zeroize::Zeroize;

use super::des::Cbc;
use super::hmac::HmacMd5;
use super::md5::{compress_words, finish, load, pad_and_digest};
use super::rc4::{next as rc4_next, Rc4};
use super::{truncate_mac, Pass};

/// Runs RC4 inside the MD5 loop (off: MAC then RC4 in two passes, for comparison).
const STITCH: bool = true;

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
    pass: Pass,
) {
    let target: &mut [u8; 64] = match target.try_into() {
        Ok(t) => t,
        Err(_) => return debug_assert!(false, "target is 64 bytes"),
    };
    match pass {
        Pass::Open => compress_words(state, m, |n| {
            if n & 15 == 15 {
                c.decrypt_blocks(&mut target[n - 15..=n]);
            }
        }),
        Pass::Seal => compress_words(state, m, |n| {
            if n & 7 == 7 {
                c.encrypt_blocks(&mut target[n - 7..=n]);
            }
        }),
    }
}

/// Where a MAC computed alongside a CBC cipher stands: the inner state after the
/// first `hashed` bytes of the buffer (`first`: no block hashed yet), and how many
/// bytes the cipher has processed.
pub(crate) struct CbcProgress {
    state: [u32; 4],
    hashed: usize,
    first: bool,
    /// Bytes of the buffer already encrypted (sealing) or decrypted (opening); a
    /// multiple of 8.
    pub(crate) ciphered: usize,
}

impl Drop for CbcProgress {
    fn drop(&mut self) {
        self.state.zeroize();
    }
}

impl HmacMd5 {
    /// Hashes `seq || buf[..bound]` in whole MD5 blocks with the CBC cipher running
    /// over `buf` alongside; the caller finishes the MAC with
    /// [`mac_cbc_finish`](Self::mac_cbc_finish).
    ///
    /// * `Pass::Seal`: `buf` is the plaintext message and `bound` its
    ///   length; the cipher trails the hash, encrypting only bytes already loaded,
    ///   in 64-byte steps. `buf[progress.ciphered..]` is left in the clear.
    /// * `Pass::Open`: `buf` is ciphertext, a multiple of 8 bytes, and
    ///   `bound` a lower bound of the message length (at most `buf.len()`); the
    ///   cipher runs up to 64 bytes ahead of the hash. `buf[progress.ciphered..]` is
    ///   still encrypted.
    #[inline]
    pub(crate) fn mac_cbc<C: Cbc>(
        &self,
        seq: u32,
        c: &mut C,
        buf: &mut [u8],
        bound: usize,
        pass: Pass,
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
            if pass == Pass::Open && ciphered < end {
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
            let ok = if pass == Pass::Open {
                ciphered + 64 <= total_len
            } else {
                ciphered + 64 <= end
            };
            if ok {
                compress_cbc(&mut state, &m, c, &mut buf[ciphered..ciphered + 64], pass);
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
    pub(crate) fn mac_cbc_finish(&self, p: &CbcProgress, seq: u32, msg: &[u8]) -> [u8; 10] {
        let rest = msg.get(p.hashed..).unwrap_or_default();
        let mut ih = if p.first {
            finish(self.inner, 64, &seq.to_be_bytes(), msg)
        } else {
            finish(p.state, 64 + 4 + p.hashed as u64, &[], rest)
        };
        let full = finish(self.outer, 64, &ih, &[]);
        ih.zeroize();
        truncate_mac(&full)
    }

    /// MAC and RC4 in one pass. The MAC is the first 10 bytes of
    /// HMAC-MD5(key, seq || buf[..msg_len]) over the *plaintext*; the whole of `buf`
    /// goes through RC4.
    ///
    /// * `Pass::Seal`: `buf` is the plaintext message (`msg_len` is its
    ///   length); on return it is encrypted. RC4 trails the hash.
    /// * `Pass::Open`: `buf` is the ciphertext of message and MAC; on
    ///   return it is decrypted, and the MAC of its first `msg_len` bytes is
    ///   returned. RC4 runs ahead of the hash.
    ///
    /// Same result as `mac10` plus `apply_keystream`, in the right order.
    #[inline]
    pub(crate) fn mac10_rc4(
        &self,
        seq: u32,
        rc4: &mut Rc4,
        buf: &mut [u8],
        msg_len: usize,
        pass: Pass,
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
            if pass == Pass::Open && ciphered < end {
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
            let (lo, ok) = if pass == Pass::Open {
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
        if pass == Pass::Open && ciphered < msg_len {
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
        truncate_mac(&full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let mac2 = key.mac10_rc4(seq, &mut tx, &mut got, len, Pass::Seal);
            assert_eq!(mac2, mac, "seal mac, len {len}");
            let mut tail = mac2;
            tx.apply_keystream(&mut tail);
            got.extend_from_slice(&tail);
            assert_eq!(got, want, "seal ciphertext, len {len}");
            // stitched open
            let mac3 = key.mac10_rc4(seq, &mut rx, &mut got, len, Pass::Open);
            assert_eq!(mac3, mac, "open mac, len {len}");
            assert_eq!(&got[..len], msg);
            assert_eq!(got[len..], mac[..]);
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
            let p = key.mac_cbc(seq, &mut tx, &mut out[pre..], len, Pass::Seal);
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
            let p = key.mac_cbc(
                seq,
                &mut rx,
                &mut body,
                data_len.saturating_sub(8),
                Pass::Open,
            );
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
        use super::super::des::{DesCbc, TripleDesCbc};
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
}
