//! The parameters both sides negotiate: quality of protection, ciphers, sides and
//! the maxbuf rules.

use std::fmt;

/// Which end of the exchange a value belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The initiator (InitializeSecurityContext).
    Client,
    /// The acceptor (AcceptSecurityContext).
    Server,
}

/// Quality of protection (RFC 2831 `qop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Qop {
    /// Authentication only, no security layer.
    Auth,
    /// Authentication plus integrity protection (MakeSignature/VerifySignature).
    AuthInt,
    /// Authentication plus integrity and confidentiality (EncryptMessage/DecryptMessage).
    AuthConf,
}

impl Qop {
    /// All values, weakest first.
    pub const ALL: [Qop; 3] = [Qop::Auth, Qop::AuthInt, Qop::AuthConf];

    /// The token as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
            Qop::AuthConf => "auth-conf",
        }
    }

    /// Parses a wire token (case-insensitive).
    pub fn from_token(s: &str) -> Option<Qop> {
        Qop::ALL
            .into_iter()
            .find(|q| q.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether this qop installs a security layer.
    pub fn has_layer(self) -> bool {
        self != Qop::Auth
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A confidentiality cipher of qop `auth-conf` (RFC 2831 §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// RC4 with a key derived from 5 bytes of H(A1).
    Rc4_40,
    /// RC4 with a key derived from 7 bytes of H(A1).
    Rc4_56,
    /// RC4 with a key derived from all 16 bytes of H(A1).
    Rc4,
    /// Single DES in CBC mode.
    Des,
    /// Two-key triple DES (EDE) in CBC mode.
    TripleDes,
}

impl Cipher {
    /// All ciphers, in the default preference order (strongest first, as Cyrus and the
    /// Digest SSP rank them).
    pub const ALL: [Cipher; 5] = [
        Cipher::Rc4,
        Cipher::TripleDes,
        Cipher::Rc4_56,
        Cipher::Des,
        Cipher::Rc4_40,
    ];

    /// The token as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Cipher::Rc4_40 => "rc4-40",
            Cipher::Rc4_56 => "rc4-56",
            Cipher::Rc4 => "rc4",
            Cipher::Des => "des",
            Cipher::TripleDes => "3des",
        }
    }

    /// Parses a wire token (case-insensitive).
    pub fn from_token(s: &str) -> Option<Cipher> {
        Cipher::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }

    /// Effective key strength in bits (the SSF Cyrus reports; des counts 56 here).
    pub fn strength(self) -> u32 {
        match self {
            Cipher::Rc4_40 => 40,
            Cipher::Rc4_56 => 56,
            Cipher::Des => 56,
            Cipher::TripleDes => 112,
            Cipher::Rc4 => 128,
        }
    }

    /// Number of bytes of H(A1) that enter the Kcc/Kcs derivation (RFC 2831 §2.4).
    pub fn key_derivation_len(self) -> usize {
        match self {
            Cipher::Rc4_40 => 5,
            Cipher::Rc4_56 => 7,
            _ => 16,
        }
    }

    /// Whether this is a block cipher (DES family, 8-byte blocks, padding).
    pub fn is_block(self) -> bool {
        matches!(self, Cipher::Des | Cipher::TripleDes)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`Qop`] values.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct QopSet(u8);

impl QopSet {
    /// No qop.
    pub const EMPTY: QopSet = QopSet(0);
    /// Every qop.
    pub const ALL: QopSet = QopSet(0b111);

    /// A set with one member.
    pub fn only(q: Qop) -> QopSet {
        QopSet(q.bit())
    }
    /// Adds a member.
    pub fn insert(&mut self, q: Qop) {
        self.0 |= q.bit();
    }
    /// Membership.
    pub fn contains(self, q: Qop) -> bool {
        self.0 & q.bit() != 0
    }
    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Members, weakest first.
    pub fn iter(self) -> impl DoubleEndedIterator<Item = Qop> {
        Qop::ALL.into_iter().filter(move |q| self.contains(*q))
    }
}

impl FromIterator<Qop> for QopSet {
    fn from_iter<I: IntoIterator<Item = Qop>>(iter: I) -> Self {
        let mut s = QopSet::EMPTY;
        for q in iter {
            s.insert(q);
        }
        s
    }
}

impl fmt::Debug for QopSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// A set of [`Cipher`] values.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CipherSet(u8);

impl CipherSet {
    /// No cipher.
    pub const EMPTY: CipherSet = CipherSet(0);
    /// Every cipher.
    pub const ALL: CipherSet = CipherSet(0b11111);
    /// The ciphers of at least 112 bits: rc4 and 3des (the default on both sides).
    pub const STRONG: CipherSet =
        CipherSet((1 << Cipher::Rc4 as u8) | (1 << Cipher::TripleDes as u8));

    /// A set with one member.
    pub fn only(c: Cipher) -> CipherSet {
        CipherSet(c.bit())
    }
    /// Adds a member.
    pub fn insert(&mut self, c: Cipher) {
        self.0 |= c.bit();
    }
    /// Membership.
    pub fn contains(self, c: Cipher) -> bool {
        self.0 & c.bit() != 0
    }
    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Members in the default preference order ([`Cipher::ALL`]).
    pub fn iter(self) -> impl Iterator<Item = Cipher> {
        Cipher::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

impl FromIterator<Cipher> for CipherSet {
    fn from_iter<I: IntoIterator<Item = Cipher>>(iter: I) -> Self {
        let mut s = CipherSet::EMPTY;
        for c in iter {
            s.insert(c);
        }
        s
    }
}

impl fmt::Display for CipherSet {
    /// The members as a comma-separated list, strongest first (`"rc4, des"`), or
    /// `"none"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, c) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(c.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Display for QopSet {
    /// The members as a comma-separated list (`"auth, auth-int"`), or `"none"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, q) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(q.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for CipherSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Smallest `maxbuf` a peer may advertise (exclusive bound, RFC 2831bis).
pub const MAXBUF_MIN_EXCLUSIVE: u32 = 16;
/// Largest `maxbuf` a peer may advertise (2^24 - 1).
pub const MAXBUF_MAX: u32 = 0xFF_FFFF;
/// `maxbuf` when the directive is absent.
pub const MAXBUF_DEFAULT: u32 = 65536;

/// Whether `n` is a `maxbuf` a peer may advertise or we may configure
/// (`MAXBUF_MIN_EXCLUSIVE < n <= MAXBUF_MAX`): the one place this rule is written.
pub(crate) fn maxbuf_in_range(n: u32) -> bool {
    n > MAXBUF_MIN_EXCLUSIVE && n <= MAXBUF_MAX
}
