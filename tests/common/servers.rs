//! Real servers for integration tests: each started by its script in
//! `tests/servers/` in a fresh temp dir on a free loopback port, stopped when
//! the returned guard is dropped.
//!
//! Nothing is skipped: if a server cannot start (not installed, port
//! trouble, bad config) the test panics with the script's output, which ends
//! with the server log tail.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The servers there are scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// OpenLDAP slapd + Cyrus SASL (realm `realm`); users alice/secret, bob/b0b-p@ss.
    Slapd,
    /// Dovecot IMAP (realm `realm`); alice, bob, carol ({DIGEST-MD5} hash of secret).
    Dovecot,
    /// Prosody + mod_auth_cyrus (domain `localhost`); alice, bob.
    Prosody,
    /// ejabberd, internal auth with plain passwords (domain `localhost`);
    /// alice, bob. Does not check the DIGEST-MD5 authzid.
    Ejabberd,
    /// ZooKeeper 3.8 standalone, SASL required (service `zookeeper`, server name and
    /// realm `zk-sasl-md5`, qop auth); alice, bob. `DIR/zkcli.sh` is ZooKeeper's own
    /// CLI authenticated as alice.
    ZooKeeper,
    /// A private Postfix instance, SMTP AUTH through Cyrus SASL (realm `realm`);
    /// alice, bob; mail to USER@localhost lands in `DIR/mail/USER/new/`.
    Postfix,
    /// Redis without persistence (the shared reauthentication store).
    Redis,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Slapd => "slapd",
            Kind::Dovecot => "dovecot",
            Kind::Prosody => "prosody",
            Kind::Ejabberd => "ejabberd",
            Kind::ZooKeeper => "zookeeper",
            Kind::Postfix => "postfix",
            Kind::Redis => "redis",
        }
    }

    fn log(self, dir: &Path) -> PathBuf {
        match self {
            Kind::Ejabberd => dir.join("logs/ejabberd.log"),
            k => dir.join(format!("{}.log", k.name())),
        }
    }

    fn pid_file(self, dir: &Path) -> PathBuf {
        match self {
            Kind::Ejabberd => dir.join("run/ejabberd.pid"),
            _ => dir.join("server.pid"),
        }
    }

    fn script(self) -> PathBuf {
        // Also used by the workspace member cyrus-plugin/, one level down.
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = if here.join("tests/servers").is_dir() {
            here
        } else {
            here.parent().expect("the repository root")
        };
        root.join("tests/servers")
            .join(format!("{}.sh", self.name()))
    }
}

/// A running server; stopped (and its directory removed) on drop.
#[derive(Debug)]
pub struct Server {
    pub kind: Kind,
    pub dir: PathBuf,
    pub port: u16,
    pub pid: Option<u32>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A port that is free now, and (ejabberd's Erlang distribution uses
/// PORT+1) whose successor is free too.
fn free_port() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

fn fresh_dir(kind: Kind) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "sasl-digest-md5-{}-{}-{}-{nanos}",
        kind.name(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("create server temp dir");
    dir
}

fn run_script(kind: Kind, cmd: &str, dir: &Path, port: u16, envs: &[(&str, &str)]) -> Output {
    Command::new("bash")
        .arg(kind.script())
        .arg(cmd)
        .arg(dir)
        .arg(port.to_string())
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", kind.script().display()))
}

impl Server {
    /// Start `kind` with its default configuration.
    pub fn start(kind: Kind) -> Server {
        Server::start_with_env(kind, &[])
    }

    /// Start `kind` with extra environment for its script (e.g.
    /// `SASL_SECPROPS` for slapd). Panics with the script output and log
    /// tail if it does not come up.
    pub fn start_with_env(kind: Kind, envs: &[(&str, &str)]) -> Server {
        let mut last = String::new();
        // A free port can be taken between probing and binding; retry then.
        for _ in 0..5 {
            let dir = fresh_dir(kind);
            let port = free_port();
            let out = run_script(kind, "start", &dir, port, envs);
            if out.status.success() {
                let pid = std::fs::read_to_string(kind.pid_file(&dir))
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                return Server {
                    kind,
                    dir,
                    port,
                    pid,
                };
            }
            last = format!(
                "{} start {} {port} failed ({}):\n{}{}",
                kind.name(),
                dir.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = run_script(kind, "stop", &dir, port, &[]);
            if !last.contains("already in use") {
                break;
            }
        }
        panic!("{last}");
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the server now, keeping its directory and port (see [`Server::restart`]).
    pub fn stop(&self) {
        let out = run_script(self.kind, "stop", &self.dir, self.port, &[]);
        assert!(
            out.status.success(),
            "{} stop failed: {}",
            self.kind.name(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts a stopped server again on the same port and directory.
    pub fn restart(&mut self) {
        let out = run_script(self.kind, "start", &self.dir, self.port, &[]);
        assert!(
            out.status.success(),
            "{} restart on port {} failed:\n{}{}",
            self.kind.name(),
            self.port,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.pid = std::fs::read_to_string(self.kind.pid_file(&self.dir))
            .ok()
            .and_then(|s| s.trim().parse().ok());
    }

    /// The tail of the server's log, for assertion messages.
    pub fn log_tail(&self) -> String {
        let log = self.kind.log(&self.dir);
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let out = run_script(self.kind, "stop", &self.dir, self.port, &[]);
        let stopped = out.status.success();
        if !stopped {
            if let Some(pid) = self.pid {
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .arg(pid.to_string())
                    .status();
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "{} on port {} kept for inspection: {}\n{}",
                self.kind.name(),
                self.port,
                self.dir.display(),
                self.log_tail()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
