//! The client context: `InitializeSecurityContext` for DIGEST-MD5 on the SASL path.
//!
//! ```
//! use sasl_digest_md5::{ClientConfig, ClientContext, Credential, Requirements, Step, Target};
//! let config = ClientConfig::new("alice", Credential::password("secret"), Target::new("ldap", "ldap.example.com").unwrap())
//!     .requirements(Requirements::MUTUAL_AUTH | Requirements::CONFIDENTIALITY);
//! let mut client = ClientContext::new(config).unwrap();
//! let challenge = br#"realm="example.com",nonce="OA6MG9tEQGm2hh",qop="auth,auth-conf",cipher="rc4,des",charset=utf-8,algorithm=md5-sess"#;
//! let Step::Continue(response) = client.step(Some(challenge)).unwrap() else { unreachable!() };
//! assert!(response.windows(9).any(|w| w == b"auth-conf"));
//! // ... send `response`, then feed the server's `rspauth=...` to `client.step` ...
//! ```

use std::fmt;
use std::ops::BitOr;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::challenge::Challenge;
use crate::digest::{self, DigestInput, Secret, SessionKey};
use crate::error::{
    ConfigError, Downgrade, Error, Misuse, ParseError, RspauthFailure, TargetError, UriPart,
};
use crate::layer::{self, Sealer, Unsealer};
use crate::response::{parse_rspauth, Response};
use crate::{
    Cipher, Negotiated, Qop, Side, Step, MAXBUF_DEFAULT, MAXBUF_MAX, MAXBUF_MIN_EXCLUSIVE,
};

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

/// The digest-uri `serv-type/host[/serv-name]` (the SSP's target name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    service: String,
    host: String,
    serv_name: Option<String>,
}

fn check_uri_part(s: &str, what: UriPart) -> Result<(), Error> {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        let ok = (0x21..0x7f).contains(&c) && !matches!(c, b'/' | b'"' | b'\\');
        if !ok {
            return Err(TargetError::NotPrintable(what).into());
        }
        if c == b'%'
            && !(i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit())
        {
            return Err(TargetError::NotPrintable(what).into());
        }
    }
    Ok(())
}

impl Target {
    /// `service/host`. The host must be non-empty; both parts printable US-ASCII
    /// without `/`, quotes or backslashes (use percent-encoding). An empty service is
    /// allowed (Hadoop uses `/default`).
    pub fn new(service: &str, host: &str) -> Result<Target, Error> {
        if host.is_empty() {
            return Err(TargetError::Empty(UriPart::Host).into());
        }
        check_uri_part(service, UriPart::Service)?;
        check_uri_part(host, UriPart::Host)?;
        Ok(Target {
            service: service.to_owned(),
            host: host.to_owned(),
            serv_name: None,
        })
    }

    /// Adds the `/serv-name` part (for replicated services, RFC 2831 §2.1.2).
    pub fn with_serv_name(mut self, name: &str) -> Result<Target, Error> {
        if name.is_empty() {
            return Err(TargetError::Empty(UriPart::ServName).into());
        }
        check_uri_part(name, UriPart::ServName)?;
        self.serv_name = Some(name.to_owned());
        Ok(self)
    }

    /// Parses `serv-type/host[/serv-name]`.
    pub fn parse(uri: &str) -> Result<Target, Error> {
        let mut parts = uri.splitn(3, '/');
        let service = parts.next().unwrap_or("");
        let host = parts
            .next()
            .ok_or(Error::TargetUnknown(TargetError::NoSlash))?;
        let t = Target::new(service, host)?;
        match parts.next() {
            Some(n) => t.with_serv_name(n),
            None => Ok(t),
        }
    }

    /// The service (serv-type).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The serv-name, if any.
    pub fn serv_name(&self) -> Option<&str> {
        self.serv_name.as_deref()
    }

    /// The digest-uri string.
    pub fn uri(&self) -> String {
        match &self.serv_name {
            Some(n) => format!("{}/{}/{}", self.service, self.host, n),
            None => format!("{}/{}", self.service, self.host),
        }
    }
}

/// Chooses a realm among those the server offered.
pub type RealmChooser = Arc<dyn Fn(&[String]) -> Option<String> + Send + Sync>;

/// Everything a client needs: credentials, target and policy.
#[derive(Clone)]
pub struct ClientConfig {
    authcid: String,
    credential: Credential,
    authzid: Option<String>,
    target: Target,
    realm: Option<String>,
    realm_chooser: Option<RealmChooser>,
    requirements: Requirements,
    max_qop: Qop,
    ciphers: Option<Vec<Cipher>>,
    min_strength: Option<u32>,
    maxbuf: u32,
    fixed_cnonce: Option<Vec<u8>>,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("authcid", &self.authcid)
            .field("credential", &self.credential)
            .field("authzid", &self.authzid)
            .field("target", &self.target)
            .field("realm", &self.realm)
            .field("requirements", &self.requirements)
            .field("max_qop", &self.max_qop)
            .field("ciphers", &self.ciphers)
            .field("min_strength", &self.min_strength)
            .field("maxbuf", &self.maxbuf)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// A configuration with the defaults: no requirement beyond mutual authentication
    /// (qop `auth`), every cipher in [`Cipher::ALL`] order with a strength floor of
    /// 112 bits (so rc4 or 3des: see [`ClientConfig::min_cipher_strength`]), maxbuf
    /// 65536.
    pub fn new(authcid: impl Into<String>, credential: Credential, target: Target) -> Self {
        ClientConfig {
            authcid: authcid.into(),
            credential,
            authzid: None,
            target,
            realm: None,
            realm_chooser: None,
            requirements: Requirements::MUTUAL_AUTH,
            max_qop: Qop::Auth,
            ciphers: None,
            min_strength: None,
            maxbuf: MAXBUF_DEFAULT,
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

    /// The minimum protection; the qop chosen is never weaker than
    /// [`Requirements::min_qop`].
    pub fn requirements(mut self, r: Requirements) -> Self {
        self.requirements = r | Requirements::MUTUAL_AUTH;
        self
    }

    /// The strongest qop to take when the server offers it (default: the minimum the
    /// requirements demand, so no layer is installed unless asked for).
    pub fn max_qop(mut self, q: Qop) -> Self {
        self.max_qop = q;
        self
    }

    /// Acceptable ciphers, most preferred first. Naming ciphers here accepts each of
    /// them, however weak, unless [`ClientConfig::min_cipher_strength`] is also set.
    pub fn ciphers(mut self, c: &[Cipher]) -> Self {
        self.ciphers = Some(c.to_vec());
        self
    }

    /// Refuse ciphers weaker than this many bits ([`Cipher::strength`]). Default:
    /// [`DEFAULT_MIN_CIPHER_STRENGTH`] (112) unless [`ClientConfig::ciphers`] names
    /// the acceptable ciphers, in which case there is no further floor.
    ///
    /// RFC 2831 does not cover the server's cipher list with the digest: a man in the
    /// middle can cut it to `rc4-40`, so a weak floor is a weak layer.
    pub fn min_cipher_strength(mut self, bits: u32) -> Self {
        self.min_strength = Some(bits);
        self
    }

    fn cipher_list(&self) -> &[Cipher] {
        self.ciphers.as_deref().unwrap_or(&Cipher::ALL)
    }

    fn cipher_floor(&self) -> u32 {
        match (self.min_strength, &self.ciphers) {
            (Some(bits), _) => bits,
            (None, Some(_)) => 0,
            (None, None) => DEFAULT_MIN_CIPHER_STRENGTH,
        }
    }

    /// Whether `cipher` is acceptable: listed, at or above the floor, and able to
    /// carry a frame within both maxbufs (des and 3des need 22).
    fn accepts_cipher(&self, cipher: Cipher, peer_maxbuf: u32) -> bool {
        self.cipher_list().contains(&cipher)
            && cipher.strength() >= self.cipher_floor()
            && layer::carries_plaintext(Some(cipher), peer_maxbuf)
            && layer::carries_plaintext(Some(cipher), self.maxbuf)
    }

    /// The qops this policy allows, weakest first.
    fn qop_range(&self) -> (Qop, Qop) {
        let min = self.requirements.min_qop();
        (min, self.max_qop.max(min))
    }

    /// Our receive buffer size, advertised as `maxbuf` (17..=16777215).
    pub fn maxbuf(mut self, n: u32) -> Self {
        self.maxbuf = n;
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

    fn cnonce(&self) -> Result<Vec<u8>, Error> {
        match &self.fixed_cnonce {
            Some(c) => Ok(c.clone()),
            None => crate::random_nonce(),
        }
    }
}

/// What the previous authentication used, for reauthentication.
#[derive(Debug, Clone)]
struct Auth {
    nonce: Vec<u8>,
    nc: u32,
    realm: Option<String>,
    qop: Qop,
    cipher: Option<Cipher>,
    utf8: bool,
    peer_maxbuf: u32,
}

/// The rspauth value the server must send, kept out of `Debug` output and wiped on
/// drop (anyone who saw it could complete the mutual authentication in the server's
/// place).
struct ExpectedRspauth(Zeroizing<[u8; 32]>);

impl fmt::Debug for ExpectedRspauth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug)]
enum State {
    Initial,
    AwaitRspauth {
        auth: Auth,
        key: SessionKey,
        expected: ExpectedRspauth,
        reauth: bool,
    },
    Established {
        auth: Auth,
        key: SessionKey,
        layer_taken: bool,
    },
    Failed,
}

/// What a client keeps from an established context to reauthenticate later, possibly
/// on a new connection (RFC 2831 §2.2): the server's nonce, the last nonce-count and
/// the choices made. It holds no secret.
#[derive(Debug, Clone)]
pub struct ReauthTicket {
    auth: Auth,
}

/// A DIGEST-MD5 client context, driven like `InitializeSecurityContext`.
#[derive(Debug)]
pub struct ClientContext {
    config: ClientConfig,
    state: State,
    negotiated: Option<Negotiated>,
}

impl ClientContext {
    /// Checks the configuration and creates a context waiting for the server's
    /// challenge.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        if config.authcid.is_empty() {
            return Err(ConfigError::EmptyUsername.into());
        }
        if config.maxbuf <= MAXBUF_MIN_EXCLUSIVE || config.maxbuf > MAXBUF_MAX {
            return Err(ConfigError::MaxBufOutOfRange(config.maxbuf).into());
        }
        if config.authzid.as_deref() == Some("") {
            return Err(ConfigError::EmptyAuthzid.into());
        }
        Ok(ClientContext {
            config,
            state: State::Initial,
            negotiated: None,
        })
    }

    /// Advances the exchange with the server's token.
    ///
    /// - Before the challenge: `None` is [`Error::TokenRequired`] and changes nothing.
    /// - Given the challenge: returns [`Step::Continue`] with the response.
    /// - Given `rspauth=...`: verifies it and returns [`Step::Complete`].
    /// - On an established context, `None` starts a reauthentication (RFC 2831 §2.2):
    ///   [`Step::Continue`] with a client-first response.
    ///
    /// Any other error fails the context for good.
    pub fn step(&mut self, input: Option<&[u8]>) -> Result<Step, Error> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let (state, result) = self.advance(state, input);
        self.state = state;
        result
    }

    fn advance(&mut self, state: State, input: Option<&[u8]>) -> (State, Result<Step, Error>) {
        match (state, input) {
            (s @ State::Initial, None) => (s, Err(Error::TokenRequired)),
            (State::Initial, Some(tok)) => self.first(tok),
            (s @ State::AwaitRspauth { .. }, None) => (s, Err(Error::TokenRequired)),
            (
                State::AwaitRspauth {
                    auth,
                    key,
                    expected,
                    reauth,
                },
                Some(tok),
            ) => {
                match parse_rspauth(tok) {
                    Ok(got) => {
                        if digest::digest_eq(&expected.0, &got) {
                            if let Some(n) = self.negotiated.as_mut() {
                                n.mutual = true;
                            }
                            (
                                State::Established {
                                    auth,
                                    key,
                                    layer_taken: false,
                                },
                                Ok(Step::Complete(None)),
                            )
                        } else {
                            (
                                State::Failed,
                                Err(Error::MutualAuthFailed(RspauthFailure::Wrong)),
                            )
                        }
                    }
                    Err(ParseError::Missing(_)) if reauth => {
                        // The server refused the reauthentication with a fresh challenge.
                        match Challenge::parse(tok) {
                            Ok(c) if c.stale => self.first(tok),
                            Ok(_) => (
                                State::Failed,
                                Err(Error::MutualAuthFailed(
                                    RspauthFailure::ChallengeInsteadOfRspauth,
                                )),
                            ),
                            Err(e) => (State::Failed, Err(e.into())),
                        }
                    }
                    Err(ParseError::Missing(_)) => (
                        State::Failed,
                        Err(Error::MutualAuthFailed(RspauthFailure::Missing)),
                    ),
                    Err(ParseError::Duplicate(_)) => (
                        State::Failed,
                        Err(Error::MutualAuthFailed(RspauthFailure::Duplicated)),
                    ),
                    Err(e) => (State::Failed, Err(e.into())),
                }
            }
            (State::Established { auth, .. }, None) => self.reauth(auth),
            (s @ State::Established { .. }, Some(_)) => (s, Err(Misuse::Established.into())),
            (State::Failed, _) => (State::Failed, Err(Misuse::Failed.into())),
        }
    }

    /// Starts a reauthentication (RFC 2831 §2.2) on an established context: the same
    /// as `step(None)`.
    pub fn reauthenticate(&mut self) -> Result<Step, Error> {
        match self.state {
            State::Established { .. } => self.step(None),
            _ => Err(Misuse::NotEstablished.into()),
        }
    }

    /// The ticket for a later reauthentication: `Some` once established.
    pub fn reauth_ticket(&self) -> Option<ReauthTicket> {
        match &self.state {
            State::Established { auth, .. } => Some(ReauthTicket { auth: auth.clone() }),
            _ => None,
        }
    }

    /// Starts a subsequent authentication on a new connection: a context that sends
    /// the returned client-first token, then expects `rspauth` (accepted) or a
    /// `stale=true` challenge (it then authenticates afresh).
    pub fn resume(config: ClientConfig, ticket: ReauthTicket) -> Result<(Self, Vec<u8>), Error> {
        let mut ctx = ClientContext::new(config)?;
        match ctx.reauth(ticket.auth) {
            (state, Ok(Step::Continue(tok))) => {
                ctx.state = state;
                Ok((ctx, tok))
            }
            (_, Err(e)) => Err(e),
            // `respond` always continues with a token.
            (_, Ok(_)) => Err(Misuse::Failed.into()),
        }
    }

    fn choose(&self, c: &Challenge) -> Result<(Qop, Option<Cipher>), Error> {
        let cfg = &self.config;
        let (min, max) = cfg.qop_range();
        let mut refusal = match min {
            Qop::AuthConf => Some(Downgrade::ConfidentialityNotOffered { offered: c.qops }),
            Qop::AuthInt => Some(Downgrade::IntegrityNotOffered { offered: c.qops }),
            Qop::Auth => None,
        };
        for q in c.qops.iter().rev().filter(|q| *q >= min && *q <= max) {
            if q != Qop::AuthConf {
                return Ok((q, None));
            }
            let pick = cfg
                .cipher_list()
                .iter()
                .copied()
                .find(|x| c.ciphers.contains(*x) && cfg.accepts_cipher(*x, c.maxbuf));
            match pick {
                Some(x) => return Ok((q, Some(x))),
                None => {
                    refusal = Some(Downgrade::NoAcceptableCipher {
                        offered: c.ciphers,
                        allowed: cfg.cipher_list().iter().copied().collect(),
                        floor: cfg.cipher_floor(),
                    })
                }
            }
        }
        match refusal {
            Some(d) => Err(Error::DowngradeRefused(d)),
            // Only `auth` is allowed, and the server insists on a layer.
            None => Err(Error::ServerRequiresLayer { offered: c.qops }),
        }
    }

    /// A reauthentication repeats the earlier choices without a challenge: they must
    /// still satisfy the policy in force (which may be stricter than the one they were
    /// made under).
    fn check_ticket(&self, auth: &Auth) -> Result<(), Error> {
        let cfg = &self.config;
        let (min, max) = cfg.qop_range();
        let cipher_ok = match (auth.qop, auth.cipher) {
            (Qop::AuthConf, Some(c)) => cfg.accepts_cipher(c, auth.peer_maxbuf),
            (Qop::AuthConf, None) => false,
            (_, c) => c.is_none(),
        };
        if auth.qop < min || auth.qop > max || !cipher_ok {
            return Err(Error::DowngradeRefused(Downgrade::TicketBelowPolicy {
                qop: auth.qop,
                cipher: auth.cipher,
            }));
        }
        Ok(())
    }

    fn first(&mut self, tok: &[u8]) -> (State, Result<Step, Error>) {
        let c = match Challenge::parse(tok) {
            Ok(c) => c,
            Err(e) => return (State::Failed, Err(e.into())),
        };
        let (qop, cipher) = match self.choose(&c) {
            Ok(x) => x,
            Err(e) => return (State::Failed, Err(e)),
        };
        let realm = match &self.config.realm_chooser {
            Some(f) => f(&c.realms),
            None => self
                .config
                .realm
                .clone()
                .or_else(|| c.realms.first().cloned()),
        };
        let auth = Auth {
            nonce: c.nonce,
            nc: 0,
            realm,
            qop,
            cipher,
            utf8: c.utf8,
            peer_maxbuf: c.maxbuf,
        };
        self.respond(auth, false)
    }

    fn reauth(&mut self, auth: Auth) -> (State, Result<Step, Error>) {
        if auth.nc == u32::MAX {
            return (State::Failed, Err(Error::NonceExhausted));
        }
        if let Err(e) = self.check_ticket(&auth) {
            return (State::Failed, Err(e));
        }
        self.respond(auth, true)
    }

    fn respond(&mut self, mut auth: Auth, reauth: bool) -> (State, Result<Step, Error>) {
        auth.nc += 1;
        let cnonce = match self.config.cnonce() {
            Ok(c) => c,
            Err(e) => return (State::Failed, Err(e)),
        };
        let cfg = &self.config;
        let uri = cfg.target.uri();
        let secret = cfg
            .credential
            .secret(&cfg.authcid, auth.realm.as_deref().unwrap_or(""));
        let input = DigestInput {
            nonce: &auth.nonce,
            cnonce: &cnonce,
            nc: auth.nc,
            qop: auth.qop,
            digest_uri: uri.as_bytes(),
        };
        let key = digest::session_key(&secret, &input, cfg.authzid.as_deref().map(str::as_bytes));
        let response = digest::response_value(&key, &input, false);
        let expected = ExpectedRspauth(Zeroizing::new(digest::response_value(&key, &input, true)));
        let r = Response {
            username: cfg.authcid.clone(),
            realm: auth.realm.clone(),
            nonce: auth.nonce.clone(),
            cnonce,
            nc: auth.nc,
            qop: auth.qop,
            digest_uri: uri,
            response,
            maxbuf: cfg.maxbuf,
            utf8: auth.utf8,
            cipher: auth.cipher,
            authzid: cfg.authzid.clone(),
        };
        let bytes = r.to_bytes();
        if bytes.len() > crate::response::MAX_RESPONSE_LEN {
            return (
                State::Failed,
                Err(ConfigError::ResponseTooLong(bytes.len()).into()),
            );
        }
        self.negotiated = Some(Negotiated {
            username: cfg.authcid.clone(),
            realm: auth.realm.clone(),
            authzid: cfg.authzid.clone(),
            qop: auth.qop,
            cipher: auth.cipher,
            ssf: crate::ssf(auth.qop, auth.cipher),
            mutual: false,
            own_maxbuf: cfg.maxbuf,
            peer_maxbuf: auth.peer_maxbuf,
            nc: auth.nc,
        });
        (
            State::AwaitRspauth {
                auth,
                key,
                expected,
                reauth,
            },
            Ok(Step::Continue(bytes)),
        )
    }

    /// Whether the context is established (rspauth verified).
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established { .. })
    }

    /// What was negotiated: `Some` once established.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        match self.state {
            State::Established { .. } => self.negotiated.as_ref(),
            _ => None,
        }
    }

    /// The security layer of an established `auth-int`/`auth-conf` context, split into
    /// its sending and receiving halves. It can be taken once per authentication (a
    /// second pair would reuse the keystream).
    pub fn security_layer(&mut self) -> Result<(Sealer, Unsealer), Error> {
        let State::Established {
            auth,
            key,
            layer_taken,
        } = &mut self.state
        else {
            return Err(Misuse::NotEstablished.into());
        };
        if *layer_taken {
            return Err(Misuse::LayerAlreadyTaken.into());
        }
        let r = layer::establish(
            key.as_bytes(),
            auth.qop,
            auth.cipher,
            Side::Client,
            auth.peer_maxbuf,
            self.config.maxbuf,
        )?;
        *layer_taken = true;
        Ok(r)
    }
}
