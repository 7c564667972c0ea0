//! A small driver for the live interop peers in `tools/cyrus/` and `tools/jdk/`: it
//! builds them (once per test binary), spawns one, and talks its line protocol over
//! stdin/stdout with a timeout, so that a stuck peer fails the test instead of hanging
//! it. When the `Peer` is dropped, its stdin is closed and the child is killed unless
//! it exits by itself within 0.5 s.
//!
//! A peer that cannot be built or started fails the test with the reason: these tests
//! never skip.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// How long one answer line may take (a JVM start plus one step is well under this).
pub const LINE_TIMEOUT: Duration = Duration::from_secs(30);

pub fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

pub fn unb64(s: &str) -> Vec<u8> {
    STANDARD
        .decode(s)
        .unwrap_or_else(|e| panic!("peer sent bad base64 ({e}): {s:.80}"))
}

/// Deterministic, non-repetitive plaintext: every byte value occurs, and messages
/// with different `k` differ.
pub fn plain(n: usize, k: usize) -> Vec<u8> {
    (0..n)
        .map(|i| ((i * 31 + k * 7 + n + (i >> 8)) & 0xff) as u8)
        .collect()
}

fn root() -> PathBuf {
    // Also used by the workspace member cyrus-plugin/, one level down.
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if here.join("tools").is_dir() {
        here
    } else {
        here.parent().expect("the repository root").to_path_buf()
    }
}

/// Set (at compile time, by `cyrus-plugin/build.rs`) when these tests are built as
/// part of the plugin crate: the Cyrus peer then runs with our `libdigestmd5.so`
/// instead of Debian's (`SASL_PATH`), and every peer is checked to have loaded it.
pub const OUR_PLUGIN: bool = option_env!("SASL_DIGEST_MD5_CYRUS_PLUGIN_TESTS").is_some();

/// A directory holding our plugin (built next to the test binary) and a link to
/// Debian's sasldb auxprop plugin, which the Cyrus server peer stores passwords in.
fn our_plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        let so = exe.parent().unwrap().join("libdigestmd5.so");
        assert!(so.is_file(), "{} not built", so.display());
        let dir =
            std::env::temp_dir().join(format!("digestmd5-peer-plugin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&so, dir.join("libdigestmd5.so")).unwrap();
        let sasldb = Path::new("/usr/lib/x86_64-linux-gnu/sasl2/libsasldb.so");
        assert!(sasldb.exists(), "install libsasl2-modules-db");
        let link = dir.join("libsasldb.so");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(sasldb, &link).unwrap();
        dir
    })
}

fn run_build(script: &Path) -> Result<(), String> {
    let out = Command::new("bash")
        .arg(script)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed ({}):\n{}{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn built(cell: &'static OnceLock<Result<(), String>>, script: &str, hint: &str) {
    let r = cell.get_or_init(|| run_build(&root().join(script)));
    if let Err(e) = r {
        panic!("the interop peer could not be built; {hint}\n{e}");
    }
}

const CYRUS_HINT: &str =
    "install: apt-get install gcc libsasl2-dev libsasl2-modules libsasl2-modules-db libssl-dev";
const JDK_HINT: &str = "install a JDK (apt-get install default-jdk-headless) or set JAVA_HOME";

/// Builds `tools/cyrus/build/{peer,des_shim.so}` once per test binary.
pub fn cyrus_built() -> PathBuf {
    static CELL: OnceLock<Result<(), String>> = OnceLock::new();
    built(&CELL, "tools/cyrus/build.sh", CYRUS_HINT);
    root().join("tools/cyrus/build")
}

/// Builds `tools/jdk/build/*.class` once per test binary.
pub fn jdk_built() {
    static CELL: OnceLock<Result<(), String>> = OnceLock::new();
    built(&CELL, "tools/jdk/build.sh", JDK_HINT);
}

/// One running peer process.
pub struct Peer {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    /// Every line exchanged, for failure messages.
    log: Vec<String>,
    /// The DIGEST-MD5 plugin file the process must have loaded (checked in
    /// `/proc/PID/maps` when its first line arrives, after `sasl_*_init`).
    expect_plugin: Option<PathBuf>,
}

impl Peer {
    /// The Cyrus peer (`tools/cyrus/build/peer`), optionally with the 3des parity shim
    /// preloaded (see `tools/cyrus/README.md`).
    pub fn cyrus(args: &[&str], des_shim: bool) -> Peer {
        let dir = cyrus_built();
        let mut cmd = Command::new(dir.join("peer"));
        cmd.args(args);
        if des_shim {
            cmd.env("LD_PRELOAD", dir.join("des_shim.so"));
        }
        if OUR_PLUGIN {
            cmd.env("SASL_PATH", our_plugin_dir());
            let mut peer = Peer::spawn(format!("cyrus+ours {}", args.join(" ")), cmd);
            peer.expect_plugin = Some(our_plugin_dir().join("libdigestmd5.so"));
            return peer;
        }
        cmd.env_remove("SASL_PATH");
        Peer::spawn(format!("cyrus {}", args.join(" ")), cmd)
    }

    /// The JDK peer (`tools/jdk/peer.sh`).
    pub fn jdk(args: &[&str]) -> Peer {
        jdk_built();
        let mut cmd = Command::new("bash");
        cmd.arg(root().join("tools/jdk/peer.sh")).args(args);
        Peer::spawn(format!("jdk {}", args.join(" ")), cmd)
    }

    fn spawn(name: String, mut cmd: Command) -> Peer {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start peer `{name}`: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Peer {
            name,
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            log: Vec::new(),
            expect_plugin: None,
        }
    }

    fn context(&self) -> String {
        // give the stderr reader a moment to catch up with an exiting process
        std::thread::sleep(Duration::from_millis(50));
        let err = self
            .stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let tail: Vec<&String> = self.log.iter().rev().take(8).collect();
        let tail: Vec<String> = tail
            .into_iter()
            .rev()
            .map(|l| format!("{l:.200}"))
            .collect();
        format!(
            "peer `{}`\n--- last lines ---\n{}\n--- stderr ---\n{}",
            self.name,
            tail.join("\n"),
            err
        )
    }

    /// Writes one line (the newline is added).
    pub fn send(&mut self, line: &str) {
        self.log.push(format!("> {line}"));
        let ok = match self.stdin.as_mut() {
            Some(w) => w
                .write_all(line.as_bytes())
                .and_then(|_| w.write_all(b"\n"))
                .and_then(|_| w.flush())
                .is_ok(),
            None => false,
        };
        if !ok {
            panic!("cannot write to the peer (it exited?)\n{}", self.context());
        }
    }

    /// Reads one line; `None` if the peer closed its stdout (exited).
    /// Panics if nothing comes within [`LINE_TIMEOUT`].
    pub fn try_recv(&mut self) -> Option<String> {
        match self.lines.recv_timeout(LINE_TIMEOUT) {
            Ok(l) => {
                self.log.push(format!("< {l}"));
                if let Some(want) = self.expect_plugin.take() {
                    self.check_plugin(&want);
                }
                Some(l)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!(
                "no answer from the peer within {:?}\n{}",
                LINE_TIMEOUT,
                self.context()
            ),
        }
    }

    /// Panics unless the process mapped `want` and no other `libdigestmd5.so`.
    fn check_plugin(&self, want: &Path) {
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", self.child.id()))
            .unwrap_or_else(|e| self.fail(&format!("cannot read the peer's maps: {e}")));
        let loaded: Vec<&str> = maps
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .filter(|p| p.contains("libdigestmd5.so"))
            .collect();
        if loaded.is_empty() || loaded.iter().any(|p| Path::new(p) != want) {
            self.fail(&format!(
                "the peer should have loaded {} only, it mapped {loaded:?}",
                want.display()
            ));
        }
    }

    /// Reads one line; panics on timeout or end of output.
    pub fn recv(&mut self) -> String {
        match self.try_recv() {
            Some(l) => l,
            None => panic!("the peer exited unexpectedly\n{}", self.context()),
        }
    }

    /// `send` then `recv`.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(line);
        self.recv()
    }

    /// Panics with `msg` and the peer's context.
    pub fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\n{}", self.context())
    }

    /// Waits (bounded) for the process to exit and returns whether it exited with
    /// status 0.
    pub fn exit_success(&mut self) -> bool {
        self.stdin = None;
        let deadline = Instant::now() + LINE_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) => return st.success(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => self.fail("the peer did not exit"),
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // EOF first, so that the peer can exit on its own (the Cyrus peer then removes
        // its temporary sasldb); kill it if it does not within a moment.
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
