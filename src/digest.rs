//! The digest computations of RFC 2831 §2.1.2.1 and §2.1.3: pure functions, no state.
//!
//! ```
//! use sasl_digest_md5::digest::{secret, session_key, response_value, DigestInput};
//! use sasl_digest_md5::Qop;
//! // RFC 2831 §4, the IMAP example.
//! let s = secret("chris", "elwood.innosoft.com", "secret");
//! let input = DigestInput {
//!     nonce: b"OA6MG9tEQGm2hh", cnonce: b"OA6MHXh6VqTrRk", nc: 1,
//!     qop: Qop::Auth, digest_uri: b"imap/elwood.innosoft.com",
//! };
//! let k = session_key(&s, &input, None);
//! assert_eq!(&response_value(&k, &input, false), b"d388dad90d4bbd760a152321f2143af7");
//! assert_eq!(&response_value(&k, &input, true), b"ea40f60335c427b5527b84dbabcdfffd");
//! ```

use std::borrow::Cow;
use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::layer::primitives::backend::Md5;

use crate::Qop;

/// Encodes a string the way RFC 2831 wants it hashed: ISO-8859-1 when every character
/// fits, otherwise UTF-8 as is (what Cyrus SASL and the JDK do, field by field).
pub fn latin1_or_utf8(s: &str) -> Cow<'_, [u8]> {
    if s.is_ascii() {
        return Cow::Borrowed(s.as_bytes());
    }
    if s.chars().all(|c| (c as u32) <= 0xFF) {
        Cow::Owned(s.chars().map(|c| c as u8).collect())
    } else {
        Cow::Borrowed(s.as_bytes())
    }
}

/// Decodes ISO-8859-1 bytes.
pub fn latin1_decode(b: &[u8]) -> String {
    b.iter().map(|&c| c as char).collect()
}

/// `H({ username-value, ":", realm-value, ":", passwd })`: the 16-byte password
/// equivalent that a server may store instead of the password.
///
/// Wiped on drop; `==` compares in constant time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secret(pub(crate) [u8; 16]);

impl PartialEq for Secret {
    /// Constant-time comparison (no early exit on the first differing byte).
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Secret {}

impl Secret {
    /// Wraps a precomputed secret (for example from a password database).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Secret(bytes)
    }

    /// Parses the 32-hex-digit form used by Dovecot's `{DIGEST-MD5}` scheme and gsasl.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let mut out = [0u8; 16];
        decode_hex(hex.as_bytes(), &mut out)?;
        Some(Secret(out))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// H(A1): the session key from which every security-layer key derives.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionKey(pub(crate) [u8; 16]);

impl SessionKey {
    /// The raw 16 bytes of H(A1).
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// Computes the secret from a password, converting each of the three strings on its own
/// with [`latin1_or_utf8`].
pub fn secret(username: &str, realm: &str, password: &str) -> Secret {
    secret_raw(
        &latin1_or_utf8(username),
        &latin1_or_utf8(realm),
        password.as_bytes(),
        true,
    )
}

/// Computes the secret over the exact bytes given, with the password optionally
/// down-converted; used by servers to try the UTF-8 form a non-conforming client hashed.
pub(crate) fn secret_raw(
    username: &[u8],
    realm: &[u8],
    password: &[u8],
    convert_password: bool,
) -> Secret {
    let mut h = Md5::new();
    h.update(username);
    h.update(b":");
    h.update(realm);
    h.update(b":");
    match (convert_password, std::str::from_utf8(password)) {
        (true, Ok(p)) => {
            let mut enc = latin1_or_utf8(p).into_owned();
            h.update(&enc);
            enc.zeroize();
        }
        _ => h.update(password),
    }
    Secret(h.finalize())
}

/// The per-exchange values that enter H(A1), `response` and `rspauth`, as the bytes on
/// the wire (unquoted and unescaped).
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'a> {
    /// The server's nonce.
    pub nonce: &'a [u8],
    /// The client's cnonce.
    pub cnonce: &'a [u8],
    /// The nonce-count.
    pub nc: u32,
    /// The qop chosen by the client.
    pub qop: Qop,
    /// The digest-uri.
    pub digest_uri: &'a [u8],
}

/// H(A1) = H({ secret, ":", nonce, ":", cnonce [, ":", authzid ] }) with md5-sess.
pub fn session_key(secret: &Secret, input: &DigestInput<'_>, authzid: Option<&[u8]>) -> SessionKey {
    let mut h = Md5::new();
    h.update(&secret.0);
    h.update(b":");
    h.update(input.nonce);
    h.update(b":");
    h.update(input.cnonce);
    if let Some(z) = authzid {
        h.update(b":");
        h.update(z);
    }
    SessionKey(h.finalize())
}

/// Lowercase hex of 16 bytes.
pub fn hex16(b: &[u8; 16]) -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (i, &x) in b.iter().enumerate() {
        out[2 * i] = HEX[(x >> 4) as usize];
        out[2 * i + 1] = HEX[(x & 15) as usize];
    }
    out
}

pub(crate) fn decode_hex(hex: &[u8], out: &mut [u8]) -> Option<()> {
    if hex.len() != out.len() * 2 {
        return None;
    }
    fn nib(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = (nib(hex[2 * i])? << 4) | nib(hex[2 * i + 1])?;
    }
    Some(())
}

/// The nonce-count as 8 lowercase hex digits.
pub fn nc_hex(nc: u32) -> [u8; 8] {
    let mut out = [0u8; 8];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, o) in out.iter_mut().enumerate() {
        *o = HEX[((nc >> (28 - 4 * i)) & 15) as usize];
    }
    out
}

/// `response-value` (`rspauth == false`) or the `rspauth` value (`rspauth == true`), as
/// 32 lowercase hex digits.
pub fn response_value(key: &SessionKey, input: &DigestInput<'_>, rspauth: bool) -> [u8; 32] {
    let mut a2 = Md5::new();
    if !rspauth {
        a2.update(b"AUTHENTICATE");
    }
    a2.update(b":");
    a2.update(input.digest_uri);
    if input.qop != Qop::Auth {
        a2.update(b":00000000000000000000000000000000");
    }
    let ha2 = hex16(&a2.finalize());
    let mut kd = Md5::new();
    let mut key_hex = hex16(&key.0);
    kd.update(&key_hex);
    key_hex.zeroize();
    kd.update(b":");
    kd.update(input.nonce);
    kd.update(b":");
    kd.update(&nc_hex(input.nc));
    kd.update(b":");
    kd.update(input.cnonce);
    kd.update(b":");
    kd.update(input.qop.as_str().as_bytes());
    kd.update(b":");
    kd.update(&ha2);
    hex16(&kd.finalize())
}

/// Constant-time equality of two hex digests (case-insensitive, as peers differ).
pub fn digest_eq(a: &[u8; 32], b: &[u8]) -> bool {
    if b.len() != 32 {
        return false;
    }
    let mut lower = [0u8; 32];
    for (l, &c) in lower.iter_mut().zip(b) {
        *l = c.to_ascii_lowercase();
    }
    a.ct_eq(&lower).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2831_acap_example() {
        let s = secret("chris", "elwood.innosoft.com", "secret");
        let i = DigestInput {
            nonce: b"OA9BSXrbuRhWay",
            cnonce: b"OA9BSuZWMSpW8m",
            nc: 1,
            qop: Qop::Auth,
            digest_uri: b"acap/elwood.innosoft.com",
        };
        let k = session_key(&s, &i, None);
        assert_eq!(hex16(&k.0), *b"b62e36ab7dd57c82c296186c0f062f9e");
        assert_eq!(
            &response_value(&k, &i, false),
            b"6084c6db3fede7352c551284490fd0fc"
        );
        assert_eq!(
            &response_value(&k, &i, true),
            b"2f0b3d7c3c2e486600ef710726aa2eae"
        );
    }

    #[test]
    fn rfc2831_imap_ha1() {
        let s = secret("chris", "elwood.innosoft.com", "secret");
        let i = DigestInput {
            nonce: b"OA6MG9tEQGm2hh",
            cnonce: b"OA6MHXh6VqTrRk",
            nc: 1,
            qop: Qop::Auth,
            digest_uri: b"imap/elwood.innosoft.com",
        };
        assert_eq!(
            hex16(&session_key(&s, &i, None).0),
            *b"a2549853149b0536f01f0b850c643c57"
        );
    }

    #[test]
    fn gsasl_vector() {
        let s = Secret::from_bytes([b'Q'; 16]);
        let i = DigestInput {
            nonce: b"nonce",
            cnonce: b"cnonce",
            nc: 1,
            qop: Qop::Auth,
            digest_uri: b"digesturi",
        };
        let k = session_key(&s, &i, Some(b"authzid"));
        assert_eq!(
            &response_value(&k, &i, false),
            b"6c1f58bfa46e9c225b93745c84204efd"
        );
        assert_eq!(
            &response_value(&k, &i, true),
            b"6a204da26b9888ee40bb3052ff056a67"
        );
    }

    #[test]
    fn latin1_conversion() {
        assert_eq!(&*latin1_or_utf8("Jürgen"), b"J\xfcrgen");
        assert_eq!(&*latin1_or_utf8("用户"), "用户".as_bytes());
        assert_eq!(latin1_decode(b"J\xfcrgen"), "Jürgen");
        // Each field converts on its own.
        let a = secret("Jürgen", "realm", "пароль");
        let b = secret_raw(b"J\xfcrgen", b"realm", "пароль".as_bytes(), false);
        assert_eq!(a, b);
    }

    #[test]
    fn nc_and_compare() {
        assert_eq!(&nc_hex(1), b"00000001");
        assert_eq!(&nc_hex(0xdeadbeef), b"deadbeef");
        let d = *b"0123456789abcdef0123456789abcdef";
        assert!(digest_eq(&d, b"0123456789ABCDEF0123456789abcdef"));
        assert!(!digest_eq(&d, b"0123456789abcdef0123456789abcdee"));
        assert!(!digest_eq(&d, b"0123"));
    }
}
