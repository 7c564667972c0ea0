//! What a client is configured with: who it is, whom it talks to, and what it
//! accepts ([`ClientPolicy`]).

use std::fmt;
use std::ops::BitOr;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::context::Target;
use crate::digest::{self, Secret};
use crate::error::Error;
use crate::layer;
use crate::{Cipher, Qop, MAXBUF_DEFAULT};

/// The cipher strength floor when the caller neither set one nor named ciphers: 112
/// bits, i.e. rc4 and 3des ([`CipherSet::STRONG`](crate::CipherSet::STRONG)).
pub const DEFAULT_MIN_CIPHER_STRENGTH: u32 = 112;

/// Context requirements, as the SSP's `ISC_REQ_*` flags.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Requirements(u8);

impl Requirements {
    /// No requirement: qop `auth` only (unless [`ClientConfig::max_qop`] allows more).
    pub const NONE: Requirements = Requirements(0);
    /// The server must prove knowledge of the password (`rspauth`). Always enforced.
    pub const MUTUAL_AUTH: Requirements = Requirements(1);
    /// Integrity protection: at least qop `auth-int`.
    pub const INTEGRITY: Requirements = Requirements(2);
    /// Confidentiality: qop `auth-conf`.
    pub const CONFIDENTIALITY: Requirements = Requirements(4);
    /// Replay detection: at least qop `auth-int`.
    pub const REPLAY_DETECT: Requirements = Requirements(8);
    /// Sequence detection: at least qop `auth-int`.
    pub const SEQUENCE_DETECT: Requirements = Requirements(16);

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: Requirements) -> bool {
        self.0 & other.0 == other.0
    }

    /// The weakest qop that satisfies these requirements.
    pub fn min_qop(self) -> Qop {
        if self.contains(Self::CONFIDENTIALITY) {
            Qop::AuthConf
        } else if self.0 & (Self::INTEGRITY.0 | Self::REPLAY_DETECT.0 | Self::SEQUENCE_DETECT.0)
            != 0
        {
            Qop::AuthInt
        } else {
            Qop::Auth
        }
    }
}

impl BitOr for Requirements {
    type Output = Requirements;
    fn bitor(self, rhs: Self) -> Self {
        Requirements(self.0 | rhs.0)
    }
}

impl fmt::Debug for Requirements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            "MUTUAL_AUTH",
            "INTEGRITY",
            "CONFIDENTIALITY",
            "REPLAY_DETECT",
            "SEQUENCE_DETECT",
        ];
        let set: Vec<_> = names
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect();
        write!(f, "Requirements({})", set.join(" | "))
    }
}

/// The client's secret: a password, or the precomputed H({username:realm:password}).
#[derive(Clone)]
pub enum Credential {
    /// The plaintext password (zeroized on drop).
    Password(Zeroizing<String>),
    /// A precomputed, realm-bound secret; only valid with the realm it was made for.
    Secret(Secret),
}

impl Credential {
    /// A password credential.
    pub fn password(p: impl Into<String>) -> Self {
        Credential::Password(Zeroizing::new(p.into()))
    }

    pub(crate) fn secret(&self, username: &str, realm: &str) -> Secret {
        match self {
            Credential::Password(p) => digest::secret(username, realm, p),
            Credential::Secret(s) => s.clone(),
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Password(_) => f.write_str("Password(<redacted>)"),
            Credential::Secret(_) => f.write_str("Secret(<redacted>)"),
        }
    }
}

/// Chooses a realm among those the server offered.
pub type RealmChooser = Arc<dyn Fn(&[String]) -> Option<String> + Send + Sync>;

/// Everything a client needs: credentials, target and policy.
#[derive(Clone)]
pub struct ClientConfig {
    pub(super) authcid: String,
    pub(super) credential: Credential,
    pub(super) authzid: Option<String>,
    pub(super) target: Target,
    pub(super) realm: Option<String>,
    pub(super) realm_chooser: Option<RealmChooser>,
    pub(super) policy: ClientPolicy,
    fixed_cnonce: Option<Vec<u8>>,
}

/// What a client accepts: the protection it requires, what it takes when offered
/// more, its ciphers and their floor, its receive buffer. Part of every
/// [`ClientConfig`] (set it whole with [`ClientConfig::policy`] or piecewise with the
/// builder methods), and the rsasl mechanism's client property
/// ([`DigestClientPolicy`](crate::mechanism::DigestClientPolicy)).
///
/// ```
/// use sasl_digest_md5::{ClientPolicy, Qop, Requirements};
/// // The secure choice is the short one:
/// let p = ClientPolicy::require_confidentiality();
/// assert_eq!(p.requirements.min_qop(), Qop::AuthConf);
/// assert_eq!(p.min_cipher_strength, None); // the 112-bit default floor applies
/// let p = ClientPolicy::require_integrity();
/// assert_eq!((p.requirements.min_qop(), p.max_qop), (Qop::AuthInt, Qop::AuthConf));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPolicy {
    /// Minimum protection (`INTEGRITY`, `CONFIDENTIALITY`, ...); mutual authentication
    /// is always required.
    pub requirements: Requirements,
    /// The strongest qop to take when offered (default: the minimum, so no layer is
    /// installed unless asked for).
    pub max_qop: Qop,
    /// Acceptable ciphers, most preferred first; `None`: every cipher in
    /// [`Cipher::ALL`] order, subject to the floor. Naming ciphers accepts each of
    /// them, however weak, unless `min_cipher_strength` is also set.
    pub ciphers: Option<Vec<Cipher>>,
    /// Cipher strength floor in bits; `None`: [`DEFAULT_MIN_CIPHER_STRENGTH`] (112)
    /// unless `ciphers` names the acceptable ciphers.
    ///
    /// RFC 2831 does not cover the server's cipher list with the digest: a man in the
    /// middle can cut it to `rc4-40`, so a weak floor is a weak layer.
    pub min_cipher_strength: Option<u32>,
    /// Our receive buffer size, advertised as `maxbuf` (17..=16777215).
    pub maxbuf: u32,
}

impl Default for ClientPolicy {
    /// qop `auth` only, every cipher with the 112-bit floor, maxbuf 65536.
    fn default() -> Self {
        ClientPolicy {
            requirements: Requirements::MUTUAL_AUTH,
            max_qop: Qop::Auth,
            ciphers: None,
            min_cipher_strength: None,
            maxbuf: MAXBUF_DEFAULT,
        }
    }
}

impl ClientPolicy {
    /// Require `auth-conf` with a cipher of at least 112 bits (rc4 or 3des); anything
    /// less is refused before a response is sent.
    pub fn require_confidentiality() -> Self {
        ClientPolicy {
            requirements: Requirements::MUTUAL_AUTH | Requirements::CONFIDENTIALITY,
            max_qop: Qop::AuthConf,
            ..ClientPolicy::default()
        }
    }

    /// Require at least `auth-int`, and take `auth-conf` (112-bit floor) when offered.
    pub fn require_integrity() -> Self {
        ClientPolicy {
            requirements: Requirements::MUTUAL_AUTH | Requirements::INTEGRITY,
            max_qop: Qop::AuthConf,
            ..ClientPolicy::default()
        }
    }

    pub(super) fn cipher_list(&self) -> &[Cipher] {
        self.ciphers.as_deref().unwrap_or(&Cipher::ALL)
    }

    pub(super) fn cipher_floor(&self) -> u32 {
        match (self.min_cipher_strength, &self.ciphers) {
            (Some(bits), _) => bits,
            (None, Some(_)) => 0,
            (None, None) => DEFAULT_MIN_CIPHER_STRENGTH,
        }
    }

    /// Whether `cipher` is acceptable: listed, at or above the floor, and able to
    /// carry a frame within both maxbufs (des and 3des need 22).
    pub(super) fn accepts_cipher(&self, cipher: Cipher, peer_maxbuf: u32) -> bool {
        self.cipher_list().contains(&cipher)
            && cipher.strength() >= self.cipher_floor()
            && layer::carries_plaintext(Some(cipher), peer_maxbuf)
            && layer::carries_plaintext(Some(cipher), self.maxbuf)
    }

    /// The qops this policy allows: (weakest, strongest).
    pub(super) fn qop_range(&self) -> (Qop, Qop) {
        let min = self.requirements.min_qop();
        (min, self.max_qop.max(min))
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("authcid", &self.authcid)
            .field("credential", &self.credential)
            .field("authzid", &self.authzid)
            .field("target", &self.target)
            .field("realm", &self.realm)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// A configuration with the default [`ClientPolicy`]: no requirement beyond mutual
    /// authentication (qop `auth`), every cipher in [`Cipher::ALL`] order with a
    /// strength floor of 112 bits (so rc4 or 3des), maxbuf 65536.
    pub fn new(authcid: impl Into<String>, credential: Credential, target: Target) -> Self {
        ClientConfig {
            authcid: authcid.into(),
            credential,
            authzid: None,
            target,
            realm: None,
            realm_chooser: None,
            policy: ClientPolicy::default(),
            fixed_cnonce: None,
        }
    }

    /// Asks to act as another identity.
    pub fn authzid(mut self, authzid: impl Into<String>) -> Self {
        self.authzid = Some(authzid.into());
        self
    }

    /// The realm to use (sent even if the server did not offer it).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// A hook that picks the realm from those the server offers (overrides
    /// [`ClientConfig::realm`]); `None` sends no realm.
    pub fn realm_chooser(
        mut self,
        f: impl Fn(&[String]) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.realm_chooser = Some(Arc::new(f));
        self
    }

    /// The whole policy at once (replaces what the builder methods below set).
    pub fn policy(mut self, policy: ClientPolicy) -> Self {
        self.policy = ClientPolicy {
            requirements: policy.requirements | Requirements::MUTUAL_AUTH,
            ..policy
        };
        self
    }

    /// The minimum protection; the qop chosen is never weaker than
    /// [`Requirements::min_qop`].
    pub fn requirements(mut self, r: Requirements) -> Self {
        self.policy.requirements = r | Requirements::MUTUAL_AUTH;
        self
    }

    /// The strongest qop to take when the server offers it (default: the minimum the
    /// requirements demand, so no layer is installed unless asked for).
    pub fn max_qop(mut self, q: Qop) -> Self {
        self.policy.max_qop = q;
        self
    }

    /// Acceptable ciphers, most preferred first. Naming ciphers here accepts each of
    /// them, however weak, unless [`ClientConfig::min_cipher_strength`] is also set.
    pub fn ciphers(mut self, c: &[Cipher]) -> Self {
        self.policy.ciphers = Some(c.to_vec());
        self
    }

    /// Refuse ciphers weaker than this many bits ([`Cipher::strength`]). Default:
    /// [`DEFAULT_MIN_CIPHER_STRENGTH`] (112) unless [`ClientConfig::ciphers`] names
    /// the acceptable ciphers, in which case there is no further floor.
    ///
    /// RFC 2831 does not cover the server's cipher list with the digest: a man in the
    /// middle can cut it to `rc4-40`, so a weak floor is a weak layer.
    pub fn min_cipher_strength(mut self, bits: u32) -> Self {
        self.policy.min_cipher_strength = Some(bits);
        self
    }

    /// Our receive buffer size, advertised as `maxbuf` (17..=16777215).
    pub fn maxbuf(mut self, n: u32) -> Self {
        self.policy.maxbuf = n;
        self
    }

    /// **Testing only** (cargo feature `danger-fixed-nonces`): use this cnonce instead
    /// of a random one. A fixed cnonce makes every key predictable to anyone who saw
    /// it; it exists to replay recorded transcripts.
    #[cfg(feature = "danger-fixed-nonces")]
    pub fn danger_fixed_cnonce(mut self, cnonce: impl Into<Vec<u8>>) -> Self {
        self.fixed_cnonce = Some(cnonce.into());
        self
    }

    pub(super) fn cnonce(&self) -> Result<Vec<u8>, Error> {
        match &self.fixed_cnonce {
            Some(c) => Ok(c.clone()),
            None => crate::context::random_nonce(),
        }
    }
}
