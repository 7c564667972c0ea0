//! Shared code of the example clients (`examples/ldap.rs`, `imap.rs`, `xmpp.rs`,
//! `zookeeper.rs`, `smtp.rs`) and of the server tests (`tests/servers_*.rs`), which
//! include this module with `#[path = "../examples/common/mod.rs"] mod clients;`.
//!
//! Layout:
//! - `mod.rs` (this file): command line, errors, timeouts, the post-auth
//!   stream type.
//! - `sasl.rs`: the rsasl configuration (registry + callback) and the
//!   "negotiated:" line. **The DIGEST-MD5 mechanism plugs in there.**
//! - `ldap.rs`, `imap.rs`, `xmpp.rs`, `smtp.rs`: the protocol plumbing. Each runs
//!   the SASL exchange over the plain TCP stream, then calls [`secure`] to get the
//!   stream everything after authentication goes through. **The sealed stream
//!   plugs in at [`secure`].**
//! - `zookeeper.rs`: the same for ZooKeeper, whose server never wraps its traffic
//!   (qop auth only), so a negotiated layer is an error there.
#![allow(dead_code)]

/// `bail!("...")`: return an [`Error`] (must be in scope) with a formatted message.
macro_rules! bail {
    ($($t:tt)*) => { return Err(Error(format!($($t)*))) };
}

/// Progress output of the examples (stdout; tests capture it).
macro_rules! progress {
    ($($t:tt)*) => { println!($($t)*) };
}

pub mod imap;
pub mod ldap;
pub mod sasl;
pub mod smtp;
pub mod xmpp;
pub mod zookeeper;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

// ---------------------------------------------------------------------------
// Errors

/// One-line error of the example clients.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach context to foreign errors: `x.ctx("reading greeting")?`.
pub trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T>;
}

impl<T, E: fmt::Display> Ctx<T> for std::result::Result<T, E> {
    fn ctx(self, what: &str) -> Result<T> {
        self.map_err(|e| Error(format!("{what}: {e}")))
    }
}

// ---------------------------------------------------------------------------
// Command line

/// The command line shared by all three examples.
#[derive(Debug, Clone)]
pub struct Args {
    /// `--server HOST:PORT`
    pub server: String,
    /// `--user NAME` (authentication id)
    pub user: String,
    /// `--password PW`, or env `DIGEST_MD5_PASSWORD`
    pub password: String,
    /// `--realm R`
    pub realm: Option<String>,
    /// `--authzid Z`
    pub authzid: Option<String>,
    /// `--host H`: digest-uri host (and the XMPP domain); default: host of --server
    /// (ZooKeeper: `zk-sasl-md5`)
    pub host: String,
    /// Whether `--host` was given (protocols with a fixed default host use it).
    pub host_given: bool,
    /// `--qop auth|auth-int|auth-conf`
    pub qop: String,
    /// `--cipher rc4|rc4-40|rc4-56|des|3des`
    pub cipher: Option<String>,
    /// `--mech NAME` (default DIGEST-MD5)
    pub mech: String,
    /// `--timeout SECONDS` (default 30), applied to every network wait
    pub timeout: Duration,
}

pub const USAGE: &str = "\
usage: PROGRAM --server HOST:PORT --user NAME [--password PW] [options]
  --password PW      password (default: env DIGEST_MD5_PASSWORD)
  --realm R          realm to authenticate in (ZooKeeper default: zk-sasl-md5)
  --authzid Z        authorization id
  --host H           digest-uri host / XMPP domain (default: host of --server;
                     ZooKeeper: zk-sasl-md5)
  --qop Q            auth | auth-int | auth-conf (default auth)
  --cipher C         rc4 | rc4-40 | rc4-56 | des | 3des (with --qop auth-conf)
  --mech NAME        SASL mechanism (default DIGEST-MD5)
  --timeout SECONDS  timeout of every network wait (default 30)";

impl Args {
    /// Parse `std::env::args()`. Prints usage and exits 2 on `--help`.
    pub fn from_env() -> Result<Args> {
        let argv: Vec<String> = std::env::args().skip(1).collect();
        if argv.iter().any(|a| a == "--help" || a == "-h") {
            println!("{USAGE}");
            std::process::exit(0);
        }
        Args::parse(&argv, std::env::var("DIGEST_MD5_PASSWORD").ok())
    }

    /// Parse an argument list (without the program name).
    pub fn parse(argv: &[String], env_password: Option<String>) -> Result<Args> {
        let mut server = None;
        let mut user = None;
        let mut password = None;
        let mut realm = None;
        let mut authzid = None;
        let mut host = None;
        let mut qop = None;
        let mut cipher = None;
        let mut mech = None;
        let mut timeout = None;
        let mut it = argv.iter();
        while let Some(flag) = it.next() {
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
                _ => (flag.as_str(), None),
            };
            let slot = match name {
                "--server" => &mut server,
                "--user" => &mut user,
                "--password" => &mut password,
                "--realm" => &mut realm,
                "--authzid" => &mut authzid,
                "--host" => &mut host,
                "--qop" => &mut qop,
                "--cipher" => &mut cipher,
                "--mech" => &mut mech,
                "--timeout" => &mut timeout,
                other => bail!("unknown argument '{other}' (see --help)"),
            };
            let value = match inline {
                Some(v) => v,
                None => match it.next() {
                    Some(v) => v.clone(),
                    None => bail!("{name} needs a value"),
                },
            };
            *slot = Some(value);
        }
        let server: String = match server {
            Some(s) => s,
            None => bail!("--server HOST:PORT is required"),
        };
        let (server_host, port) = match server.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => (h, p),
            _ => bail!("--server must be HOST:PORT, got '{server}'"),
        };
        let _ = port;
        let server_host = server_host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let Some(user) = user else {
            bail!("--user NAME is required")
        };
        let password = match password.or(env_password) {
            Some(p) => p,
            None => bail!("--password PW (or env DIGEST_MD5_PASSWORD) is required"),
        };
        let qop = qop.unwrap_or_else(|| "auth".to_string());
        if !["auth", "auth-int", "auth-conf"].contains(&qop.as_str()) {
            bail!("--qop must be auth, auth-int or auth-conf, got '{qop}'");
        }
        if let Some(c) = &cipher {
            if !["rc4", "rc4-40", "rc4-56", "des", "3des"].contains(&c.as_str()) {
                bail!("--cipher must be rc4, rc4-40, rc4-56, des or 3des, got '{c}'");
            }
        }
        let timeout = match timeout {
            None => Duration::from_secs(30),
            Some(t) => match t.parse::<f64>() {
                Ok(s) if s > 0.0 && s.is_finite() => Duration::from_secs_f64(s),
                _ => bail!("--timeout must be a positive number of seconds, got '{t}'"),
            },
        };
        Ok(Args {
            host_given: host.is_some(),
            host: host.unwrap_or(server_host),
            server,
            user,
            password,
            realm,
            authzid,
            qop,
            cipher,
            mech: mech
                .unwrap_or_else(|| "DIGEST-MD5".to_string())
                .to_ascii_uppercase(),
            timeout,
        })
    }

    /// Arguments for tests: PLAIN, given server/user/password, host `localhost`.
    pub fn for_test(server: &str, user: &str, password: &str, mech: &str) -> Args {
        Args {
            server: server.to_string(),
            user: user.to_string(),
            password: password.to_string(),
            realm: None,
            authzid: None,
            host: "localhost".to_string(),
            host_given: true,
            qop: "auth".to_string(),
            cipher: None,
            mech: mech.to_string(),
            timeout: Duration::from_secs(10),
        }
    }
}

// ---------------------------------------------------------------------------
// Timeouts and connecting

/// Await `fut`, failing with "timeout after Ns while WHAT" when it takes
/// longer than `limit`. Every network wait of the examples goes through this.
pub async fn timed<T, E: fmt::Display>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = std::result::Result<T, E>>,
) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.ctx(what),
        Err(_) => bail!("timeout after {:?} while {what}", limit),
    }
}

/// Connect to `--server` (bounded by `--timeout`).
pub async fn connect(args: &Args) -> Result<TcpStream> {
    let what = format!("connecting to {}", args.server);
    let s = timed(
        args.timeout,
        &what,
        TcpStream::connect(args.server.as_str()),
    )
    .await?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

// ---------------------------------------------------------------------------
// The stream after authentication

/// Any bidirectional async byte stream.
pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncStream for T {}

/// The stream all protocol traffic after authentication goes through.
pub type BoxStream = Pin<Box<dyn AsyncStream>>;

/// Turn the authenticated TCP stream into the stream for everything after
/// authentication.
///
/// Without a security layer (qop=auth, PLAIN) this is the TCP stream itself.
/// With one (`session.has_security_layer()`, DIGEST-MD5 auth-int/auth-conf)
/// this is where the crate's tokio secure stream goes: it takes the stream
/// and the session and frames every write as `4-byte length || wrapped
/// token` (RFC 4422 §3.7) and unwraps every frame it reads.
pub fn secure<S: AsyncStream + 'static>(
    stream: S,
    session: sasl::ClientSession,
) -> Result<BoxStream> {
    if session.has_security_layer() {
        let secure = sasl_digest_md5::stream::SecureStream::with_session(stream, session)
            .map_err(|e| Error(format!("installing the security layer: {e}")))?;
        return Ok(Box::pin(secure));
    }
    Ok(Box::pin(stream))
}
