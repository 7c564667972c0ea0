//! The client half: gathers credentials (callbacks or prompts, done in `ffi`), applies
//! the application's security properties, and drives the crate's `ClientContext`.

use std::ffi::c_int;

use sasl_digest_md5::challenge::Challenge;
use sasl_digest_md5::{
    ClientConfig, ClientContext, Credential, Qop, Requirements, Step, Target,
};

use crate::ffi::Utils;
use crate::layer::Layer;
use crate::{codes, error_code, Done, Props, StepOut};

/// What the application supplied.
#[derive(Default)]
pub struct Creds {
    /// `SASL_CB_AUTHNAME`.
    pub authname: Option<String>,
    /// `SASL_CB_USER` (empty: none).
    pub authzid: Option<String>,
    /// `SASL_CB_PASS`.
    pub password: Option<Vec<u8>>,
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
    Sent { ctx: ClientContext, own_maxbuf: u32 },
    Done,
    Failed,
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
        ClientConn { state: State::Start }
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
        let (state, r) = match state {
            State::Start => match input.token {
                None | Some([]) => (State::Start, Ok(StepOut::Continue(Vec::new()))),
                Some(tok) => match Self::first(&input, tok, gather, canon, utils) {
                    Ok((ctx, own_maxbuf, out)) => {
                        (State::Sent { ctx, own_maxbuf }, Ok(StepOut::Continue(out)))
                    }
                    // The application answers the prompts and calls again with the
                    // same challenge.
                    Err(codes::INTERACT) => (State::Start, Err(codes::INTERACT)),
                    Err(e) => (State::Failed, Err(e)),
                },
            },
            State::Sent { mut ctx, own_maxbuf } => {
                let tok = input.token.unwrap_or_default();
                if tok.is_empty() {
                    utils.seterror("DIGEST-MD5: the server sent no rspauth");
                    (State::Failed, Err(codes::BADPROT))
                } else {
                    match Self::finish(&mut ctx, tok, own_maxbuf) {
                        Ok(out) => (State::Done, Ok(out)),
                        Err((code, msg)) => {
                            utils.seterror(&format!("DIGEST-MD5: {msg}"));
                            (State::Failed, Err(code))
                        }
                    }
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

    fn first(
        input: &ClientInput<'_>,
        tok: &[u8],
        gather: impl FnOnce(Option<&[String]>) -> Result<Creds, c_int>,
        mut canon: impl FnMut(&str, u32) -> Result<(String, String), c_int>,
        utils: &Utils<'_>,
    ) -> Result<(ClientContext, u32, Vec<u8>), c_int> {
        let fail = |code: c_int, msg: &str| {
            utils.seterror(&format!("DIGEST-MD5: {msg}"));
            code
        };
        let challenge =
            Challenge::parse(tok).map_err(|e| fail(codes::BADPROT, &format!("bad challenge: {e}")))?;
        let several = (challenge.realms.len() > 1).then_some(&challenge.realms[..]);
        let creds = gather(several)?;
        let authname = creds
            .authname
            .filter(|a| !a.is_empty())
            .ok_or_else(|| fail(codes::BADPARAM, "no authentication name"))?;
        let password = creds
            .password
            .ok_or_else(|| fail(codes::BADPARAM, "no password"))?;
        let password = String::from_utf8(password)
            .map_err(|_| fail(codes::BADPARAM, "the password is not UTF-8"))?;
        let authzid = creds.authzid.filter(|z| !z.is_empty() && *z != authname);
        let realm = creds
            .realm
            .or_else(|| challenge.realms.first().cloned())
            .unwrap_or_else(|| input.server_fqdn.clone());
        let (authid, user) = match &authzid {
            Some(z) => {
                canon(z, codes::CU_AUTHZID)?;
                canon(&authname, codes::CU_AUTHID)?
            }
            None => canon(&authname, codes::CU_AUTHID | codes::CU_AUTHZID)?,
        };
        let authid = if authid.is_empty() { authname.clone() } else { authid };
        let target = Target::new(&input.service, &input.server_fqdn)
            .map_err(|e| fail(codes::BADPARAM, &format!("digest-uri: {e}")))?;
        let mut config = ClientConfig::new(authid, Credential::password(password), target).realm(realm);
        if authzid.is_some() {
            config = config.authzid(if user.is_empty() { authzid.clone().unwrap_or_default() } else { user });
        }
        let config = policy(config, &input.props).map_err(|m| fail(codes::TOOWEAK, m))?;
        let own_maxbuf = input.props.maxbuf();
        let mut ctx = ClientContext::new(config).map_err(|e| fail(error_code(&e), &e.to_string()))?;
        match ctx.step(Some(tok)) {
            Ok(Step::Continue(out)) => Ok((ctx, own_maxbuf, out)),
            Ok(Step::Complete(_)) => Err(fail(codes::BADPROT, "unexpected completion")),
            Err(e) => Err(fail(error_code(&e), &e.to_string())),
        }
    }

    fn finish(ctx: &mut ClientContext, tok: &[u8], own_maxbuf: u32) -> Result<StepOut, (c_int, String)> {
        match ctx.step(Some(tok)) {
            Ok(Step::Complete(_)) => {}
            Ok(Step::Continue(_)) => return Err((codes::BADPROT, "unexpected challenge".into())),
            Err(e) => return Err((error_code(&e), e.to_string())),
        }
        let n = ctx
            .negotiated()
            .cloned()
            .ok_or((codes::FAIL, "no negotiated parameters".to_string()))?;
        if !n.qop.has_layer() {
            return Ok(StepOut::Done { out: None, done: Done { ssf: 0, maxoutbuf: 0 }, layer: None });
        }
        let (tx, rx) = ctx.security_layer().map_err(|e| (codes::FAIL, e.to_string()))?;
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
            done: Done { ssf: n.ssf, maxoutbuf },
            layer: Some(layer),
        })
    }
}
