//! Reauthentication state shared by a server farm through Redis (cargo feature
//! `redis`).
//!
//! With the in-memory [`ReauthCache`](crate::ReauthCache), a client whose
//! reauthentication (RFC 2831 §2.2, nc=2 on a new connection) lands on another node
//! than its first authentication gets `stale=true` and pays a full authentication, and
//! replay protection is per node. [`RedisReauthStore`] keeps that state in Redis so that
//! every node sees it, and checks and claims a nonce-count in one Lua script, so two
//! nodes presenting the same response at the same moment accept it at most once.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use sasl_digest_md5::{ServerConfig, redis_store::RedisReauthStore};
//!
//! let store = Arc::new(
//!     RedisReauthStore::open("redis://127.0.0.1:6379/")?
//!         .prefix("ldap-farm:reauth:")
//!         .ttl(Duration::from_secs(600))
//!         .timeout(Duration::from_millis(250)),
//! );
//! let config = ServerConfig::new("ldap", "ldap.example.com").reauth_cache(Arc::clone(&store));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is stored
//! Per nonce, under `PREFIX{hex(nonce)}`, a hash: `prot` (qop and cipher), `user`, `realm` and `authzid` (when
//! sent), `uri` (the digest-uri), `nc` (the highest nonce-count reserved), and one
//! `c:<md5(cnonce) in hex>` field per cnonce used; the key expires `ttl` after the last
//! accepted authentication (Redis `PEXPIRE`). A reservation in progress is a second key,
//! `PREFIX{hex(nonce)}:f`, with its own short expiry
//! ([`in_flight_ttl`](RedisReauthStore::in_flight_ttl)) so that a node that dies while
//! verifying does not lock the nonce for good. Both keys share a hash tag (one Redis
//! Cluster slot), although this store talks to a single Redis server. No password, H(A1) or session key is ever sent to
//! Redis: a node verifying a reauthentication looks the user's secret up again, as for
//! a first authentication.
//!
//! # Atomicity
//! [`reserve`](ReauthStore::reserve) is one script: it checks the binding, the
//! nonce-count and (under a security layer) the cnonce, and on success advances `nc`,
//! adds the cnonce and sets the in-flight marker. Advancing at reservation rather than
//! at [`commit`](ReauthStore::commit) means an acceptance can never be lost: if the
//! commit does not reach Redis, the nonce-count is already used up.
//! [`release`](ReauthStore::release) (the proof was wrong) rolls the reservation back,
//! so a forged response does not lock the genuine client out.
//!
//! # When Redis fails
//! Every call is bounded by [`timeout`](RedisReauthStore::timeout) (default 500 ms):
//! connecting, sending and waiting for the answer together, with one immediate retry
//! on a fresh connection when a pooled one turns out to be dead (Redis restarted)
//! while time remains. A call is one request (`EVALSHA`; plus `EVAL` once after a
//! Redis restart), each waiting at most the time left. A connection that timed out is
//! dropped, never reused. When Redis is unreachable, slow or restarted:
//! - `reserve` refuses with [`ReauthRefusal::Unavailable`]: the server answers with a
//!   fresh `stale=true` challenge, i.e. the client authenticates in full. A
//!   reauthentication the store could not record is never accepted.
//! - `record` fails silently: the authentication succeeds, but that nonce cannot be
//!   used for reauthentication (it will get `stale=true`).
//! - `commit` fails silently: the nonce-count was already used up at reservation; the
//!   in-flight marker expires after `in_flight_ttl`.
//! - `release` fails silently: the nonce-count stays used up; the genuine client's
//!   next reauthentication gets `stale=true` and a full authentication.
//!
//! - a reservation whose answer timed out may still be carried out by Redis later:
//!   the nonce-count is then used up (and its in-flight marker expires); never
//!   accepted twice.
//!
//! Nothing panics and nothing blocks longer than the timeout (plus scheduling).
//! [`failures`](RedisReauthStore::failures) counts the calls that failed. Redis
//! restarted without persistence has lost every entry: clients authenticate in full
//! once, and reauthentication works again from there.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::context::server::reauth::{
    cnonce_id, ReauthAttempt, ReauthBinding, ReauthRefusal, ReauthStore, DEFAULT_MAX_NONCE_COUNT,
};

/// The key prefix by default.
pub const DEFAULT_PREFIX: &str = "sasl-digest-md5:reauth:";

/// Why [`RedisReauthStore::open`] refused its URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Redis URL: {0}")]
pub struct InvalidRedisUrl(String);

/// A [`ReauthStore`] in Redis, shared by every server node that opens the same Redis
/// with the same prefix. See the [module documentation](self) for what is stored and
/// how failures are handled.
pub struct RedisReauthStore {
    client: redis::Client,
    scripts: Scripts,
    idle: Mutex<Vec<redis::Connection>>,
    prefix: String,
    ttl: Duration,
    in_flight_ttl: Duration,
    timeout: Duration,
    max_nc: u32,
    max_idle: usize,
    failures: AtomicU64,
}

impl fmt::Debug for RedisReauthStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the URL: it may carry a password.
        f.debug_struct("RedisReauthStore")
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("in_flight_ttl", &self.in_flight_ttl)
            .field("timeout", &self.timeout)
            .field("max_nc", &self.max_nc)
            .field("failures", &self.failures())
            .finish_non_exhaustive()
    }
}

impl RedisReauthStore {
    /// A store on the Redis at `url` (`redis://[user:password@]host:port[/db]` or
    /// `redis+unix:///path`), with prefix [`DEFAULT_PREFIX`], entries valid 10 minutes,
    /// up to nc=256 per nonce, a 500 ms timeout and a 10 s in-flight expiry. Does not
    /// connect: a node starts while Redis is down, and connects when it first needs to.
    pub fn open(url: &str) -> Result<Self, InvalidRedisUrl> {
        let client = redis::Client::open(url).map_err(|e| InvalidRedisUrl(e.to_string()))?;
        Ok(RedisReauthStore {
            client,
            scripts: Scripts::new(),
            idle: Mutex::new(Vec::new()),
            prefix: DEFAULT_PREFIX.to_owned(),
            ttl: Duration::from_secs(600),
            in_flight_ttl: Duration::from_secs(10),
            timeout: Duration::from_millis(500),
            max_nc: DEFAULT_MAX_NONCE_COUNT,
            max_idle: 16,
            failures: AtomicU64::new(0),
        })
    }

    /// The prefix of every key (default [`DEFAULT_PREFIX`]). Services sharing a Redis
    /// need different prefixes; a prefix should not contain `{` (the key's hash tag
    /// follows it).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a nonce stays usable after its last accepted authentication (default
    /// 10 minutes; at least 1 ms, at most about 30 years).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long a reservation blocks other attempts with its nonce if neither commit
    /// nor release arrives (default 10 s): longer than a credential lookup takes.
    pub fn in_flight_ttl(mut self, ttl: Duration) -> Self {
        self.in_flight_ttl = ttl;
        self
    }

    /// The bound on each call: connecting, sending and waiting for Redis's answer
    /// (default 500 ms; at least 1 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The highest nonce-count accepted per nonce (default 256, at least 1); it also
    /// bounds the cnonces kept per nonce.
    pub fn max_nonce_count(mut self, max_nc: u32) -> Self {
        self.max_nc = max_nc.max(1);
        self
    }

    /// How many store calls failed because Redis was unreachable, slow or answered
    /// with an error, since the store was opened.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Checks that Redis answers within the timeout (`PING`).
    pub fn ping(&self) -> Result<(), ReauthRefusal> {
        self.run(|con, deadline| {
            set_timeouts(con, deadline)?;
            redis::cmd("PING").query::<String>(con).map(drop)
        })
    }

    /// Runs one of the scripts: `EVALSHA`, and `EVAL` (which also caches it) if Redis
    /// does not know it (after a restart). One request per call otherwise; each waits
    /// at most the time left before the deadline.
    fn eval<T: redis::FromRedisValue>(
        &self,
        lua: &Lua,
        nonce: &[u8],
        args: &[&str],
    ) -> Result<T, ReauthRefusal> {
        let state = self.key(nonce);
        let flight = format!("{state}:f");
        self.run(|con, deadline| {
            let call = |cmd: &str, script: &str| {
                let mut c = redis::cmd(cmd);
                c.arg(script).arg(2).arg(&state).arg(&flight).arg(args);
                c
            };
            set_timeouts(con, deadline)?;
            match call("EVALSHA", lua.script.get_hash()).query(con) {
                Err(e) if e.kind() == redis::ErrorKind::NoScriptError => {
                    set_timeouts(con, deadline)?;
                    call("EVAL", lua.source).query(con)
                }
                r => r,
            }
        })
    }

    fn key(&self, nonce: &[u8]) -> String {
        let mut k = String::with_capacity(self.prefix.len() + 2 + 2 * nonce.len());
        k.push_str(&self.prefix);
        k.push('{');
        hex_into(&mut k, nonce);
        k.push('}');
        k
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<redis::Connection>> {
        // A poisoned lock only means another thread panicked while holding it; the
        // vector of idle connections stays valid.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on a connection, within the timeout (`f` gets the deadline and sets
    /// the socket timeouts before each request with [`set_timeouts`]). A pooled
    /// connection that turns out to be dead (Redis restarted) is replaced once, if time
    /// remains.
    fn run<T>(
        &self,
        f: impl Fn(&mut redis::Connection, Instant) -> redis::RedisResult<T>,
    ) -> Result<T, ReauthRefusal> {
        let deadline = Instant::now() + self.timeout;
        let pooled = self.idle().pop();
        let result = match pooled {
            Some(con) => match self.attempt(con, deadline, &f) {
                Err(e) if e.is_connection_dropped() || e.is_connection_refusal() => {
                    self.fresh(deadline, &f)
                }
                r => r,
            },
            None => self.fresh(deadline, &f),
        };
        result.map_err(|e| {
            self.failures.fetch_add(1, Ordering::Relaxed);
            ReauthRefusal::Unavailable(e.to_string())
        })
    }

    fn fresh<T>(
        &self,
        deadline: Instant,
        f: &impl Fn(&mut redis::Connection, Instant) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        let left = remaining(deadline)?;
        let con = self.client.get_connection_with_timeout(left)?;
        self.attempt(con, deadline, f)
    }

    fn attempt<T>(
        &self,
        mut con: redis::Connection,
        deadline: Instant,
        f: &impl Fn(&mut redis::Connection, Instant) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        let r = f(&mut con, deadline);
        // A connection that failed at the transport level may hold half an answer:
        // drop it. One that got an error reply from Redis is fine.
        let reusable = match &r {
            Ok(_) => true,
            Err(e) => !(e.is_io_error() || e.is_unrecoverable_error()),
        };
        if reusable {
            let mut idle = self.idle();
            if idle.len() < self.max_idle {
                idle.push(con);
            }
        }
        r
    }
}

/// Socket timeouts for the next request: the time left before `deadline`.
fn set_timeouts(con: &mut redis::Connection, deadline: Instant) -> redis::RedisResult<()> {
    let left = remaining(deadline)?;
    con.set_read_timeout(Some(left))?;
    con.set_write_timeout(Some(left))
}

/// Time left before `deadline`, or a timeout error.
fn remaining(deadline: Instant) -> redis::RedisResult<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the reauthentication store's timeout elapsed",
            )
            .into()
        })
}

fn hex_into(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
}

fn cnonce_field(cnonce: &[u8]) -> String {
    let mut s = String::from("c:");
    hex_into(&mut s, &cnonce_id(cnonce));
    s
}

/// Milliseconds for PEXPIRE/PX: at least 1, at most ~30 years (Redis refuses expiries
/// that overflow its clock).
fn millis(d: Duration) -> u64 {
    const MAX: u64 = 30 * 365 * 24 * 3600 * 1000;
    u64::try_from(d.as_millis()).unwrap_or(MAX).clamp(1, MAX)
}

/// The binding as script arguments: user, realm flag, realm, authzid flag, authzid,
/// digest-uri (`None` and `Some("")` differ).
fn binding_args(b: &ReauthBinding) -> [&str; 6] {
    let flag = |o: &Option<String>| if o.is_some() { "1" } else { "0" };
    [
        &b.username,
        flag(&b.realm),
        b.realm.as_deref().unwrap_or(""),
        flag(&b.authzid),
        b.authzid.as_deref().unwrap_or(""),
        &b.digest_uri,
    ]
}

// KEYS[1]: the nonce's hash, KEYS[2]: its in-flight marker.
// ARGV: user, realm flag, realm, authzid flag, authzid, uri, cnonce field, ttl ms,
// protection (qop[/cipher]).
const RECORD: &str = r"
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'nc', 1, 'user', ARGV[1], 'uri', ARGV[6], ARGV[7], 1)
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'realm', ARGV[3]) end
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'authzid', ARGV[5]) end
redis.call('HSET', KEYS[1], 'prot', ARGV[9])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return 1
";

// ARGV: user, realm flag, realm, authzid flag, authzid, uri, cnonce field, nc,
// layer ('1'/'0'), max nc, in-flight ttl ms, protection (qop[/cipher]).
// Returns {'ok'} or {refusal[, expected nc]}.
const RESERVE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown'} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'inflight'} end
local cur = tonumber(redis.call('HGET', KEYS[1], 'nc'))
if cur == nil then return {'unknown'} end
local expected = cur + 1
if expected > tonumber(ARGV[10]) then return {'exhausted'} end
if tonumber(ARGV[8]) ~= expected then return {'nc', tostring(expected)} end
local b = redis.call('HMGET', KEYS[1], 'user', 'realm', 'authzid', 'uri', 'prot')
local function same(stored, flag, value)
  if flag == '1' then return stored == value else return stored == false end
end
if b[1] ~= ARGV[1] or not same(b[2], ARGV[2], ARGV[3])
   or not same(b[3], ARGV[4], ARGV[5]) or b[4] ~= ARGV[6] or b[5] ~= ARGV[12] then
  return {'binding'}
end
local seen = redis.call('HEXISTS', KEYS[1], ARGV[7])
if seen == 1 and ARGV[9] == '1' then return {'cnonce'} end
local added = ''
if seen == 0 then
  redis.call('HSET', KEYS[1], ARGV[7], expected)
  added = ARGV[7]
end
redis.call('HSET', KEYS[1], 'nc', expected)
redis.call('SET', KEYS[2], tostring(expected) .. '|' .. added, 'PX', ARGV[11])
return {'ok'}
";

// ARGV: nc, ttl ms. The nonce-count was advanced by the reservation; this ends it and
// renews the entry.
const COMMIT: &str = r"
local f = redis.call('GET', KEYS[2])
if f and string.sub(f, 1, string.find(f, '|', 1, true) - 1) == ARGV[1] then
  redis.call('DEL', KEYS[2])
end
if redis.call('HGET', KEYS[1], 'nc') == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
";

// ARGV: nc. Undoes the reservation of nc, if it is still the one in flight.
const RELEASE: &str = r"
local f = redis.call('GET', KEYS[2])
if not f then return 0 end
local sep = string.find(f, '|', 1, true)
if string.sub(f, 1, sep - 1) ~= ARGV[1] then return 0 end
local added = string.sub(f, sep + 1)
if redis.call('HGET', KEYS[1], 'nc') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'nc', tonumber(ARGV[1]) - 1)
  if added ~= '' then redis.call('HDEL', KEYS[1], added) end
end
redis.call('DEL', KEYS[2])
return 1
";

/// A script and its SHA1 (for `EVALSHA`).
struct Lua {
    source: &'static str,
    script: redis::Script,
}

impl Lua {
    fn new(source: &'static str) -> Self {
        Lua {
            source,
            script: redis::Script::new(source),
        }
    }
}

/// The four scripts, hashed once per store.
struct Scripts {
    record: Lua,
    reserve: Lua,
    commit: Lua,
    release: Lua,
}

impl Scripts {
    fn new() -> Self {
        Scripts {
            record: Lua::new(RECORD),
            reserve: Lua::new(RESERVE),
            commit: Lua::new(COMMIT),
            release: Lua::new(RELEASE),
        }
    }
}

impl ReauthStore for RedisReauthStore {
    fn record(&self, nonce: &[u8], binding: ReauthBinding, cnonce: &[u8]) {
        let [user, rflag, realm, aflag, authzid, uri] = binding_args(&binding);
        let (field, ttl) = (cnonce_field(cnonce), millis(self.ttl).to_string());
        let prot = binding.protection();
        let args = [user, rflag, realm, aflag, authzid, uri, &field, &ttl, &prot];
        let _ = self.eval::<i64>(&self.scripts.record, nonce, &args);
    }

    fn reserve(&self, nonce: &[u8], a: &ReauthAttempt<'_>) -> Result<(), ReauthRefusal> {
        let [user, rflag, realm, aflag, authzid, uri] = binding_args(a.binding);
        let field = cnonce_field(a.cnonce);
        let (nc, max_nc) = (a.nc.to_string(), self.max_nc.to_string());
        let flight_ttl = millis(self.in_flight_ttl).to_string();
        let layer = if a.layer { "1" } else { "0" };
        let prot = a.binding.protection();
        let args = [
            user,
            rflag,
            realm,
            aflag,
            authzid,
            uri,
            &field,
            &nc,
            layer,
            &max_nc,
            &flight_ttl,
            &prot,
        ];
        let answer: Vec<String> = self.eval(&self.scripts.reserve, nonce, &args)?;
        match answer.first().map(String::as_str) {
            Some("ok") => Ok(()),
            Some("unknown") => Err(ReauthRefusal::UnknownNonce),
            Some("inflight") => Err(ReauthRefusal::InFlight),
            Some("exhausted") => Err(ReauthRefusal::Exhausted),
            Some("binding") => Err(ReauthRefusal::BindingMismatch),
            Some("cnonce") => Err(ReauthRefusal::RepeatedCnonce),
            Some("nc") => Err(ReauthRefusal::WrongNonceCount {
                expected: answer.get(1).and_then(|s| s.parse().ok()).unwrap_or(0),
                got: a.nc,
            }),
            _ => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                Err(ReauthRefusal::Unavailable(format!(
                    "unexpected answer from the reserve script: {answer:?}"
                )))
            }
        }
    }

    fn commit(&self, nonce: &[u8], nc: u32, _cnonce: &[u8]) {
        // The cnonce joined the used ones at reservation.
        let (nc, ttl) = (nc.to_string(), millis(self.ttl).to_string());
        let _ = self.eval::<i64>(&self.scripts.commit, nonce, &[&nc, &ttl]);
    }

    fn release(&self, nonce: &[u8], nc: u32) {
        let _ = self.eval::<i64>(&self.scripts.release, nonce, &[&nc.to_string()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_a_hash_tag_and_hex_the_nonce() {
        let s = RedisReauthStore::open("redis://127.0.0.1:1/")
            .unwrap()
            .prefix("p:");
        assert_eq!(
            (s.key(b"\x00\xffA"), format!("{}:f", s.key(b"\x00\xffA"))),
            ("p:{00ff41}".into(), "p:{00ff41}:f".into())
        );
    }

    #[test]
    fn bad_url_is_a_typed_error() {
        assert!(RedisReauthStore::open("not a url").is_err());
        assert!(RedisReauthStore::open("http://127.0.0.1/").is_err());
    }

    #[test]
    fn unreachable_redis_refuses_within_the_timeout() {
        // A port nothing listens on: connection refused at once.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let s = RedisReauthStore::open(&format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .timeout(Duration::from_millis(200));
        let b = ReauthBinding {
            username: "alice".into(),
            realm: None,
            authzid: None,
            digest_uri: "ldap/h".into(),
            qop: crate::Qop::Auth,
            cipher: None,
        };
        s.record(b"n", b.clone(), b"c1");
        let t = Instant::now();
        let r = s.reserve(
            b"n",
            &ReauthAttempt {
                binding: &b,
                nc: 2,
                cnonce: b"c2",
                layer: false,
            },
        );
        assert!(matches!(r, Err(ReauthRefusal::Unavailable(_))), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(1));
        assert_eq!(s.failures(), 2);
    }

    #[test]
    fn millis_are_clamped() {
        assert_eq!(millis(Duration::ZERO), 1);
        assert_eq!(millis(Duration::MAX), 30 * 365 * 24 * 3600 * 1000);
    }
}
