//! The client half: gathers credentials (callbacks or prompts, done in `ffi`), applies
//! the application's security properties, and drives the crate's `ClientContext`.

use std::ffi::c_int;
use std::sync::{Mutex, OnceLock};

use sasl_digest_md5::wire::Challenge;
use sasl_digest_md5::{
    ClientConfig, ClientContext, Credential, Qop, ReauthTicket, Requirements, Step, Target,
};
use zeroize::Zeroizing;

use crate::ffi::Utils;
use crate::layer::Layer;
use crate::{codes, error_code, Done, Props, StepOut};

/// What the application supplied.
#[derive(Default, Clone)]
pub struct Creds {
    /// `SASL_CB_AUTHNAME`.
    pub authname: Option<String>,
    /// `SASL_CB_USER` (empty: none).
    pub authzid: Option<String>,
    /// `SASL_CB_PASS` (wiped on drop).
    pub password: Option<Zeroizing<Vec<u8>>>,
    /// `SASL_CB_GETREALM` (asked only when the server offers several realms).
    pub realm: Option<String>,
}

/// One call's input.
pub struct ClientInput<'a> {
    /// `cparams->service`.
    pub service: String,
    /// `cparams->serverFQDN`.
    pub server_fqdn: String,
    /// The security properties.
    pub props: Props,
    /// The server's token (NULL: none).
    pub token: Option<&'a [u8]>,
}

enum State {
    Start,
    Sent {
        ctx: ClientContext,
        own_maxbuf: u32,
        key: Key,
        /// Set while a reauthentication attempt is in flight: the credentials, to
        /// authenticate afresh if the server answers with a challenge.
        reauth: Option<Creds>,
    },
    Done,
    Failed,
}

/// The reauthentication cache key: service, server FQDN, authentication name.
type Key = (String, String, String);

/// Cyrus's client cache: the last authentications (10), keyed by server, shared by
/// every connection of the process.
fn cache() -> &'static Mutex<Vec<(Key, ReauthTicket, u32)>> {
    static CACHE: OnceLock<Mutex<Vec<(Key, ReauthTicket, u32)>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Vec::new()))
}

fn cache_lock() -> std::sync::MutexGuard<'static, Vec<(Key, ReauthTicket, u32)>> {
    cache().lock().unwrap_or_else(|e| e.into_inner())
}

const CACHE_SIZE: usize = 10;

/// Forgets every cached authentication (`mech_free`, at `sasl_client_done`).
pub fn clear_cache() {
    cache_lock().clear();
}

/// A client connection.
pub struct ClientConn {
    state: State,
}

impl Default for ClientConn {
    fn default() -> Self {
        Self::new()
    }
}

/// The crate's configuration for these properties (Cyrus semantics: a layer's SSF
/// must lie within `[min_ssf, max_ssf]`; the strongest one offered is taken).
pub fn policy(mut config: ClientConfig, props: &Props) -> Result<ClientConfig, &'static str> {
    let limit = props.limit();
    if props.min_ssf > limit {
        return Err("the minimum SSF exceeds the maximum (or no buffer for a layer)");
    }
    let ciphers = props.ciphers();
    let requirements = match props.min_ssf {
        0 => Requirements::NONE,
        1 => Requirements::INTEGRITY,
        _ => Requirements::CONFIDENTIALITY,
    };
    let max_qop = if limit > 1 && !ciphers.is_empty() {
        Qop::AuthConf
    } else if limit >= 1 {
        Qop::AuthInt
    } else {
        Qop::Auth
    };
    let floor = ciphers.iter().map(|c| c.strength()).min().unwrap_or(0);
    config = config
        .requirements(requirements)
        .max_qop(max_qop)
        .ciphers(&ciphers)
        .min_cipher_strength(floor)
        .maxbuf(props.maxbuf());
    Ok(config)
}

impl ClientConn {
    /// A connection waiting for `sasl_client_start`.
    pub fn new() -> Self {
        ClientConn {
            state: State::Start,
        }
    }

    /// One `mech_step`. `gather` asks for credentials (with the realms to choose from
    /// when there are several) and returns `Err(SASL_INTERACT)` after setting up
    /// prompts; `canon` runs the application's `canon_user` and returns the
    /// canonical (authid, user).
    pub fn step(
        &mut self,
        input: ClientInput<'_>,
        gather: impl FnOnce(Option<&[String]>) -> Result<Creds, c_int>,
        canon: impl FnMut(&str, u32) -> Result<(String, String), c_int>,
        utils: &Utils<'_>,
    ) -> Result<StepOut, c_int> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let sent = |(ctx, own_maxbuf, key, out, reauth)| {
            (
                State::Sent {
                    ctx,
                    own_maxbuf,
                    key,
                    reauth,
                },
                Ok(StepOut::Continue(out)),
            )
        };
        let (state, r) = match state {
            State::Start => match input.token {
                // sasl_client_start: an initial response only to reauthenticate.
                None | Some([]) => {
                    let known = cache_lock()
                        .iter()
                        .any(|((sv, h, _), _, _)| *sv == input.service && *h == input.server_fqdn);
                    if !known {
                        (State::Start, Ok(StepOut::Continue(Vec::new())))
                    } else {
                        match Self::resume(&input, gather, canon, utils) {
                            Ok(Some(x)) => sent(x),
                            Ok(None) => (State::Start, Ok(StepOut::Continue(Vec::new()))),
                            Err(codes::INTERACT) => (State::Start, Err(codes::INTERACT)),
                            Err(e) => (State::Failed, Err(e)),
                        }
                    }
                }
                Some(tok) => match Self::first(&input, tok, gather, canon, utils) {
                    Ok(x) => sent(x),
                    // The application answers the prompts and calls again with the
                    // same challenge.
                    Err(codes::INTERACT) => (State::Start, Err(codes::INTERACT)),
                    Err(e) => (State::Failed, Err(e)),
                },
            },
            State::Sent {
                mut ctx,
                own_maxbuf,
                key,
                reauth,
            } => {
                let tok = input.token.unwrap_or_default();
                match reauth {
                    // The server did not take the reauthentication (no cache, expired,
                    // stale): authenticate afresh with the same credentials.
                    Some(creds) if Challenge::parse(tok).is_ok() => {
                        match Self::first(&input, tok, |_| Ok(creds), canon, utils) {
                            Ok(x) => sent(x),
                            Err(e) => (State::Failed, Err(e)),
                        }
                    }
                    _ if tok.is_empty() => {
                        utils.seterror("DIGEST-MD5: the server sent no rspauth");
                        (State::Failed, Err(codes::BADPROT))
                    }
                    _ => match Self::finish(&mut ctx, tok, own_maxbuf, key) {
                        Ok(out) => (State::Done, Ok(out)),
                        Err((code, msg)) => {
                            utils.seterror(&format!("DIGEST-MD5: {msg}"));
                            (State::Failed, Err(code))
                        }
                    },
                }
            }
            State::Done | State::Failed => {
                utils.seterror("DIGEST-MD5: step called on a finished context");
                (State::Failed, Err(codes::BADPROT))
            }
        };
        self.state = state;
        r
    }

    /// The crate's configuration from the credentials (canonicalized), and the
    /// authentication name.
    fn config(
        input: &ClientInput<'_>,
        creds: &Creds,
        realm: Option<String>,
        canon: &mut impl FnMut(&str, u32) -> Result<(String, String), c_int>,
        fail: &impl Fn(c_int, &str) -> c_int,
    ) -> Result<(ClientConfig, String), c_int> {
        let authname = creds
            .authname
            .clone()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| fail(codes::BADPARAM, "no authentication name"))?;
        let password = creds
            .password
            .as_ref()
            .ok_or_else(|| fail(codes::BADPARAM, "no password"))?;
        let password = String::from_utf8(password.to_vec())
            .map_err(|_| fail(codes::BADPARAM, "the password is not UTF-8"))?;
        let authzid = creds
            .authzid
            .clone()
            .filter(|z| !z.is_empty() && *z != authname);
        let (authid, user) = match &authzid {
            Some(z) => {
                canon(z, codes::CU_AUTHZID)?;
                canon(&authname, codes::CU_AUTHID)?
            }
            None => canon(&authname, codes::CU_AUTHID | codes::CU_AUTHZID)?,
        };
        let authid = if authid.is_empty() {
            authname.clone()
        } else {
            authid
        };
        let target = Target::new(&input.service, &input.server_fqdn)
            .map_err(|e| fail(codes::BADPARAM, &format!("digest-uri: {e}")))?;
        let mut config = ClientConfig::new(authid, Credential::password(password), target);
        if let Some(r) = realm {
            config = config.realm(r);
        }
        if let Some(z) = authzid {
            config = config.authzid(if user.is_empty() { z } else { user });
        }
        let config = policy(config, &input.props).map_err(|m| fail(codes::TOOWEAK, m))?;
        Ok((config, authname))
    }

    fn first(
        input: &ClientInput<'_>,
        tok: &[u8],
        gather: impl FnOnce(Option<&[String]>) -> Result<Creds, c_int>,
        mut canon: impl FnMut(&str, u32) -> Result<(String, String), c_int>,
        utils: &Utils<'_>,
    ) -> Result<(ClientContext, u32, Key, Vec<u8>, Option<Creds>), c_int> {
        let fail = |code: c_int, msg: &str| {
            utils.seterror(&format!("DIGEST-MD5: {msg}"));
            code
        };
        let challenge = Challenge::parse(tok)
            .map_err(|e| fail(codes::BADPROT, &format!("bad challenge: {e}")))?;
        let several = (challenge.realms.len() > 1).then_some(&challenge.realms[..]);
        let creds = gather(several)?;
        let realm = creds
            .realm
            .clone()
            .or_else(|| challenge.realms.first().cloned())
            .unwrap_or_else(|| input.server_fqdn.clone());
        let (config, authname) = Self::config(input, &creds, Some(realm), &mut canon, &fail)?;
        let own_maxbuf = input.props.maxbuf();
        let mut ctx =
            ClientContext::new(config).map_err(|e| fail(error_code(&e), &e.to_string()))?;
        let key = (input.service.clone(), input.server_fqdn.clone(), authname);
        match ctx.step(Some(tok)) {
            Ok(Step::Continue(out)) => Ok((ctx, own_maxbuf, key, out, None)),
            Ok(Step::Complete(_)) => Err(fail(codes::BADPROT, "unexpected completion")),
            Err(e) => Err(fail(error_code(&e), &e.to_string())),
        }
    }

    /// A reauthentication from the cache (RFC 2831 §2.2, next nonce-count, fresh
    /// cnonce), if the cached layer is still within the security properties.
    #[allow(clippy::type_complexity)]
    fn resume(
        input: &ClientInput<'_>,
        gather: impl FnOnce(Option<&[String]>) -> Result<Creds, c_int>,
        mut canon: impl FnMut(&str, u32) -> Result<(String, String), c_int>,
        utils: &Utils<'_>,
    ) -> Result<Option<(ClientContext, u32, Key, Vec<u8>, Option<Creds>)>, c_int> {
        let fail = |code: c_int, msg: &str| {
            utils.seterror(&format!("DIGEST-MD5: {msg}"));
            code
        };
        let creds = gather(None)?;
        let Some(authname) = creds.authname.clone() else {
            return Ok(None);
        };
        let key = (input.service.clone(), input.server_fqdn.clone(), authname);
        let limits = input.props.min_ssf..=input.props.limit();
        let Some(ticket) = cache_lock()
            .iter()
            .find(|(k, _, ssf)| *k == key && limits.contains(ssf))
            .map(|(_, t, _)| t.clone())
        else {
            return Ok(None);
        };
        let (config, _) = Self::config(input, &creds, None, &mut canon, &fail)?;
        match ClientContext::resume(config, ticket) {
            Ok((ctx, out)) => Ok(Some((ctx, input.props.maxbuf(), key, out, Some(creds)))),
            // An exhausted nonce-count and the like: authenticate normally.
            Err(_) => Ok(None),
        }
    }

    fn finish(
        ctx: &mut ClientContext,
        tok: &[u8],
        own_maxbuf: u32,
        key: Key,
    ) -> Result<StepOut, (c_int, String)> {
        match ctx.step(Some(tok)) {
            Ok(Step::Complete(_)) => {}
            Ok(Step::Continue(_)) => return Err((codes::BADPROT, "unexpected challenge".into())),
            Err(e) => return Err((error_code(&e), e.to_string())),
        }
        let n = ctx
            .negotiated()
            .cloned()
            .ok_or((codes::FAIL, "no negotiated parameters".to_string()))?;
        if let Some(ticket) = ctx.reauth_ticket() {
            let mut c = cache_lock();
            c.retain(|(k, _, _)| *k != key);
            if c.len() >= CACHE_SIZE {
                c.remove(0);
            }
            c.push((key, ticket, n.ssf));
        }
        if !n.qop.has_layer() {
            return Ok(StepOut::Done {
                out: None,
                done: Done {
                    ssf: 0,
                    maxoutbuf: 0,
                },
                layer: None,
            });
        }
        let (tx, rx) = ctx
            .security_layer()
            .map_err(|e| (codes::FAIL, e.to_string()))?;
        let layer = Layer::new(tx, rx, own_maxbuf).map_err(|e| (codes::FAIL, e.to_string()))?;
        // Cyrus's client: the peer's maxbuf less the worst-case overhead.
        let overhead = if n.qop == Qop::AuthConf { 25 } else { 16 };
        let maxoutbuf = n
            .peer_maxbuf
            .saturating_sub(overhead)
            .min(layer.max_plaintext_len() as u32)
            .max(1);
        Ok(StepOut::Done {
            out: None,
            done: Done {
                ssf: n.ssf,
                maxoutbuf,
            },
            layer: Some(layer),
        })
    }
}
