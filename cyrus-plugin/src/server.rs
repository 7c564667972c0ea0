//! The server half: builds the offer from the application's security properties and
//! realm, fetches the user's secret through auxprop (done in `ffi`) and drives the
//! crate's `ServerContext`.

use std::ffi::c_int;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sasl_digest_md5::digest::Secret;
use sasl_digest_md5::wire::Response;
use sasl_digest_md5::{
    CipherSet, Error, Qop, QopSet, ReauthCache, ServerConfig, ServerContext, Step, StoredSecret,
};

use crate::ffi::Utils;
use crate::layer::Layer;
use crate::{codes, error_code, Done, Props, StepOut};

/// What auxprop returned for the user.
#[derive(Default)]
pub struct Found {
    /// `userPassword` (wiped on drop).
    pub password: Option<zeroize::Zeroizing<Vec<u8>>>,
    /// `cmusaslsecretDIGEST-MD5`: H({user:realm:password}), 16 raw bytes.
    pub secret: Option<Vec<u8>>,
}

/// One call's input.
pub struct ServerInput<'a> {
    /// `sparams->service`.
    pub service: String,
    /// `sparams->serverFQDN`.
    pub server_fqdn: String,
    /// `sparams->user_realm`.
    pub user_realm: Option<String>,
    /// The security properties.
    pub props: Props,
    /// `sparams->transition` is set (no secret: `SASL_TRANS` instead of `SASL_NOUSER`).
    pub transition: bool,
    /// The client's token (NULL or empty: none).
    pub token: Option<&'a [u8]>,
}

type Slot = Arc<Mutex<Option<StoredSecret>>>;

enum State {
    Start,
    Sent {
        ctx: ServerContext,
        slot: Slot,
        own_maxbuf: u32,
        realm: String,
    },
    Done,
    Failed,
}

/// A server connection.
pub struct ServerConn {
    state: State,
}

impl Default for ServerConn {
    fn default() -> Self {
        Self::new()
    }
}

/// The qops and ciphers to offer (Cyrus: every one whose SSF lies within the limits).
pub fn offer(props: &Props) -> (QopSet, CipherSet) {
    let limit = props.limit();
    let mut qops = QopSet::EMPTY;
    if props.min_ssf == 0 {
        qops.insert(Qop::Auth);
    }
    if props.min_ssf <= 1 && limit >= 1 {
        qops.insert(Qop::AuthInt);
    }
    let ciphers: CipherSet = props.ciphers().into_iter().collect();
    if !ciphers.is_empty() {
        qops.insert(Qop::AuthConf);
    }
    (qops, ciphers)
}

/// The reauthentication cache shared by every connection of the process, when the
/// `reauth_timeout` option (minutes) is set; otherwise a cache that keeps nothing.
fn reauth_cache(utils: &Utils<'_>) -> Option<Arc<ReauthCache>> {
    let minutes = utils
        .getopt(c"reauth_timeout")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if minutes == 0 {
        return None;
    }
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    Some(
        shared
            .get_or_insert_with(|| ReauthCache::new(1000, Duration::from_secs(minutes * 60)))
            .clone(),
    )
}

static SHARED: Mutex<Option<Arc<ReauthCache>>> = Mutex::new(None);

/// Forgets every cached nonce (`mech_free`, at `sasl_server_done`).
pub fn clear_cache() {
    *SHARED.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

impl ServerConn {
    /// A connection waiting for `sasl_server_start`.
    pub fn new() -> Self {
        ServerConn {
            state: State::Start,
        }
    }

    fn context(
        input: &ServerInput<'_>,
        utils: &Utils<'_>,
    ) -> Result<(ServerContext, Slot, u32, String), c_int> {
        let (qops, ciphers) = offer(&input.props);
        if qops.is_empty() {
            utils.seterror("DIGEST-MD5: no protection layer within the security properties");
            return Err(codes::TOOWEAK);
        }
        let realm = input
            .user_realm
            .clone()
            .unwrap_or_else(|| input.server_fqdn.clone());
        let own_maxbuf = input.props.maxbuf();
        let config = ServerConfig::new(&input.service, &input.server_fqdn)
            .any_host()
            .realms(Some(realm.clone()).filter(|r| !r.is_empty()))
            // As Cyrus: a client may use a realm of its own; the secret is then looked
            // up as user@realm.
            .accept_any_realm()
            .qops(qops)
            .ciphers(ciphers)
            .maxbuf(own_maxbuf)
            .utf8(true)
            .reauth_cache(
                reauth_cache(utils).unwrap_or_else(|| ReauthCache::new(0, Duration::ZERO)),
            );
        let slot: Slot = Arc::new(Mutex::new(None));
        let store_slot = slot.clone();
        let store = move |_user: &str, _realm: &str| {
            store_slot.lock().unwrap_or_else(|e| e.into_inner()).clone()
        };
        let ctx = ServerContext::new(config, store).map_err(|e| {
            utils.seterror(&format!("DIGEST-MD5: {e}"));
            error_code(&e)
        })?;
        Ok((ctx, slot, own_maxbuf, realm))
    }

    /// One `mech_step`. `lookup(user, authzid)` canonicalizes the names and returns
    /// what auxprop holds for the user.
    pub fn step(
        &mut self,
        input: ServerInput<'_>,
        lookup: impl FnOnce(&str, Option<&str>) -> Result<Found, c_int>,
        utils: &Utils<'_>,
    ) -> Result<StepOut, c_int> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        // Without a reauthentication cache an initial response is ignored, as Cyrus
        // does: the client gets a challenge.
        let token = match (&state, input.token) {
            (State::Start, Some(_)) if reauth_cache(utils).is_none() => None,
            (_, t) => t,
        };
        let (state, r) = match (state, token) {
            (State::Start, None) => match Self::context(&input, utils) {
                Ok((mut ctx, slot, own_maxbuf, realm)) => match ctx.step(None) {
                    Ok(Step::Continue(c)) => (
                        State::Sent {
                            ctx,
                            slot,
                            own_maxbuf,
                            realm,
                        },
                        Ok(StepOut::Continue(c)),
                    ),
                    Ok(Step::Complete(_)) => (State::Failed, Err(codes::FAIL)),
                    Err(e) => {
                        utils.seterror(&format!("DIGEST-MD5: {e}"));
                        (State::Failed, Err(error_code(&e)))
                    }
                },
                Err(code) => (State::Failed, Err(code)),
            },
            // A client-first response: a reauthentication attempt.
            (State::Start, Some(tok)) => match Self::context(&input, utils) {
                Ok((ctx, slot, own_maxbuf, realm)) => Self::respond(
                    ctx,
                    slot,
                    own_maxbuf,
                    realm,
                    input.transition,
                    tok,
                    lookup,
                    utils,
                ),
                Err(code) => (State::Failed, Err(code)),
            },
            (
                State::Sent {
                    ctx,
                    slot,
                    own_maxbuf,
                    realm,
                },
                Some(tok),
            ) => Self::respond(
                ctx,
                slot,
                own_maxbuf,
                realm,
                input.transition,
                tok,
                lookup,
                utils,
            ),
            (State::Sent { .. }, None) => {
                utils.seterror("DIGEST-MD5: no response from the client");
                (State::Failed, Err(codes::BADPROT))
            }
            (State::Done | State::Failed, _) => {
                utils.seterror("DIGEST-MD5: step called on a finished context");
                (State::Failed, Err(codes::BADPROT))
            }
        };
        self.state = state;
        r
    }

    fn respond(
        mut ctx: ServerContext,
        slot: Slot,
        own_maxbuf: u32,
        realm: String,
        transition: bool,
        tok: &[u8],
        lookup: impl FnOnce(&str, Option<&str>) -> Result<Found, c_int>,
        utils: &Utils<'_>,
    ) -> (State, Result<StepOut, c_int>) {
        let fail = |code: c_int, msg: &str| {
            utils.seterror(&format!("DIGEST-MD5: {msg}"));
            (State::Failed, Err(code))
        };
        let r = match Response::parse(tok) {
            Ok(r) => r,
            Err(e) => return fail(codes::BADPROT, &format!("bad response: {e}")),
        };
        // As Cyrus: a client that chose another realm than the one offered is looked
        // up as user@realm; otherwise the bare name (libsasl2 adds the default realm).
        let user = match r.realm.as_deref() {
            Some(cr) if !cr.is_empty() && cr != realm => format!("{}@{cr}", r.username),
            _ => r.username.clone(),
        };
        let found = match lookup(&user, r.authzid.as_deref().filter(|z| !z.is_empty())) {
            Ok(f) => f,
            Err(code) => return fail(code, "cannot canonicalize the user or fetch its secret"),
        };
        let stored = match (found.password, found.secret) {
            (Some(p), _) if p.is_empty() => return fail(codes::FAIL, "empty password"),
            (Some(p), _) => StoredSecret::password(String::from_utf8_lossy(&p).into_owned()),
            (None, Some(s)) if s.len() == 16 => {
                let mut b = [0u8; 16];
                b.copy_from_slice(&s);
                StoredSecret::Secret(Secret::from_bytes(b))
            }
            _ => {
                let code = if transition {
                    codes::TRANS
                } else {
                    codes::NOUSER
                };
                return fail(code, "no secret in database");
            }
        };
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(stored);
        let step = ctx.step(Some(tok));
        // The secret is needed only for this step.
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
        match step {
            Ok(Step::Continue(stale)) => (
                State::Sent {
                    ctx,
                    slot,
                    own_maxbuf,
                    realm,
                },
                Ok(StepOut::Continue(stale)),
            ),
            Ok(Step::Complete(rspauth)) => match Self::finish(&mut ctx) {
                Ok((done, layer)) => (
                    State::Done,
                    Ok(StepOut::Done {
                        out: rspauth,
                        done,
                        layer,
                    }),
                ),
                Err(e) => fail(codes::FAIL, &e),
            },
            Err(Error::LogonDenied) => fail(
                codes::BADAUTH,
                "client response doesn't match what we generated",
            ),
            Err(e) => fail(error_code(&e), &e.to_string()),
        }
    }

    fn finish(ctx: &mut ServerContext) -> Result<(Done, Option<Layer>), String> {
        let n = ctx
            .negotiated()
            .cloned()
            .ok_or("no negotiated parameters")?;
        if !n.qop.has_layer() {
            return Ok((
                Done {
                    ssf: 0,
                    maxoutbuf: 0,
                },
                None,
            ));
        }
        let (tx, rx) = ctx.security_layer().map_err(|e| e.to_string())?;
        let layer = Layer::new(tx, rx, n.own_maxbuf).map_err(|e| e.to_string())?;
        // Cyrus's server: the client's maxbuf less the length prefix and the
        // worst-case overhead.
        let overhead = if n.qop == Qop::AuthConf { 25 } else { 16 };
        let maxoutbuf = n
            .peer_maxbuf
            .saturating_sub(4 + overhead)
            .min(layer.max_plaintext_len() as u32)
            .max(1);
        Ok((
            Done {
                ssf: n.ssf,
                maxoutbuf,
            },
            Some(layer),
        ))
    }
}
