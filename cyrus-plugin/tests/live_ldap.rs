//! Our `libdigestmd5.so` inside the stock Debian 12 OpenLDAP tools and slapd, against
//! Debian's own plugin and against itself, started by `tests/servers/slapd.sh` on
//! 127.0.0.1:
//!
//! - Debian's `ldapwhoami` -> slapd running our plugin (`SASL_PATH` at start);
//! - `ldapwhoami` running our plugin -> stock slapd;
//! - ours on both sides;
//!
//! for every layer (SSF 0, 1, 40, 55, 56, 112, 128), checking the SSF that both sides
//! report, a wrong password (LDAP result 49), and 100 kB values through the layer both
//! ways (`ldapsearch` of a 100 kB attribute, `ldapcompare` with a 100 kB value).
//!
//! Which plugin each process really loaded is checked every time (libsasl2 silently
//! falls back to whatever DIGEST-MD5 plugin it finds): `LD_DEBUG=files` for the
//! clients, `/proc/PID/maps` for slapd.

#[path = "../../tests/common/servers.rs"]
#[allow(dead_code)]
mod servers;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use servers::{Kind, Server};

const ALICE: &str = "dn:uid=alice,ou=people,dc=example,dc=com";
const BIG_DN: &str = "uid=big,ou=people,dc=example,dc=com";
const STOCK_PLUGIN: &str = "/usr/lib/x86_64-linux-gnu/sasl2/libdigestmd5.so";

/// `-O` security properties selecting each layer, and the SSF it reports.
const LAYERS: [(&str, u32); 7] = [
    ("minssf=0,maxssf=0", 0),
    ("minssf=1,maxssf=1", 1),
    ("minssf=40,maxssf=40", 40),
    ("minssf=55,maxssf=55", 55),
    ("minssf=56,maxssf=56", 56),
    ("minssf=112,maxssf=112", 112),
    ("minssf=128,maxssf=128", 128),
];

/// A fresh directory holding only our plugin: what `SASL_PATH` points at.
struct PluginDir(PathBuf);

impl PluginDir {
    fn new() -> PluginDir {
        static N: AtomicU32 = AtomicU32::new(0);
        // Cargo builds the cdylib next to this test binary (target/*/deps).
        let exe = std::env::current_exe().expect("test binary path");
        let so = exe.parent().unwrap().join("libdigestmd5.so");
        assert!(
            so.is_file(),
            "{} not found: build the workspace member sasl-digest-md5-cyrus",
            so.display()
        );
        let dir = std::env::temp_dir().join(format!(
            "digestmd5-plugin-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&so, dir.join("libdigestmd5.so")).unwrap();
        PluginDir(dir)
    }

    fn so(&self) -> String {
        self.0.join("libdigestmd5.so").display().to_string()
    }
}

impl Drop for PluginDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Which DIGEST-MD5 plugin a process uses.
#[derive(Clone, Copy)]
enum Plugin<'a> {
    Debian,
    Ours(&'a PluginDir),
}

impl Plugin<'_> {
    fn file(&self) -> String {
        match self {
            Plugin::Debian => STOCK_PLUGIN.to_string(),
            Plugin::Ours(d) => d.so(),
        }
    }
}

/// slapd with `plugin`; checks in `/proc/PID/maps` that it loaded that file.
fn slapd(plugin: Plugin<'_>, extra_ldif: Option<&Path>) -> Server {
    let mut env: Vec<(&str, String)> = Vec::new();
    if let Plugin::Ours(d) = plugin {
        env.push(("SASL_PATH", d.0.display().to_string()));
    }
    if let Some(f) = extra_ldif {
        env.push(("SLAPD_EXTRA_LDIF", f.display().to_string()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let srv = Server::start_with_env(Kind::Slapd, &env);
    let pid = srv.pid.expect("slapd pid");
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("slapd's maps");
    let loaded: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.ends_with("libdigestmd5.so") || p.contains("libdigestmd5.so."))
        .collect();
    // Maps name the file itself (Debian's .so is a symlink to .so.2.0.25).
    let file = std::fs::canonicalize(plugin.file()).expect("plugin file");
    assert!(
        !loaded.is_empty() && loaded.iter().all(|p| Path::new(p) == file),
        "slapd should have loaded only {}, maps say {loaded:?}",
        plugin.file()
    );
    srv
}

fn slapd_log(srv: &Server) -> String {
    std::fs::read_to_string(srv.dir.join("slapd.log")).unwrap_or_default()
}

struct Run {
    code: Option<i32>,
    stdout: String,
    /// stderr without the `LD_DEBUG` lines.
    stderr: String,
}

/// Runs an OpenLDAP client tool with DIGEST-MD5 as alice and `plugin`; checks through
/// `LD_DEBUG=files` that libsasl2 loaded that plugin file.
fn tool(
    name: &str,
    plugin: Plugin<'_>,
    srv: &Server,
    password: &str,
    secprops: &str,
    args: &[&str],
) -> Run {
    let mut c = Command::new("timeout");
    c.arg("120")
        .arg(name)
        .args(["-H", &format!("ldap://127.0.0.1:{}/", srv.port)])
        .args([
            "-Y",
            "DIGEST-MD5",
            "-U",
            "alice",
            "-R",
            "realm",
            "-w",
            password,
        ])
        .args(["-O", secprops])
        .args(args)
        .env("LDAPNOINIT", "1")
        .env("LD_DEBUG", "files")
        .env_remove("SASL_PATH");
    if let Plugin::Ours(d) = plugin {
        c.env("SASL_PATH", &d.0);
    }
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name} (apt-get install ldap-utils): {e}"));
    let raw = String::from_utf8_lossy(&out.stderr);
    let loaded: Vec<String> = raw
        .lines()
        .filter(|l| l.contains("dynamically loaded by") && l.contains("libdigestmd5.so"))
        .filter_map(|l| l.split("file=").nth(1))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert_eq!(
        loaded,
        [plugin.file()],
        "{name} should have loaded exactly {}",
        plugin.file()
    );
    let stderr: Vec<&str> = raw
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.split(':')
                .next()
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                && l.starts_with(char::is_whitespace))
        })
        .collect();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: stderr.join("\n"),
    }
}

/// ldapwhoami for each layer: `ok` lists the SSFs that must bind, the rest must fail
/// with a message containing `fail_msg`.
fn whoami_matrix(client: Plugin<'_>, srv: &Server, failing: &[(u32, &str)]) {
    for (props, ssf) in LAYERS {
        let before = slapd_log(srv).len();
        let r = tool("ldapwhoami", client, srv, "secret", props, &[]);
        let log = slapd_log(srv)[before..].to_string();
        if let Some((_, msg)) = failing.iter().find(|(s, _)| *s == ssf) {
            assert_ne!(r.code, Some(0), "ssf {ssf} should fail:\n{}", r.stderr);
            assert!(
                r.stderr.contains(msg) || log.contains(msg),
                "ssf {ssf}: expected {msg:?}\n{}\n{log}",
                r.stderr
            );
            continue;
        }
        assert_eq!(r.code, Some(0), "ssf {ssf}:\n{}\n{log}", r.stderr);
        assert_eq!(r.stdout.trim(), ALICE, "ssf {ssf}");
        // The client's libsasl2 and slapd report the same layer.
        assert!(
            r.stderr.contains(&format!("SASL SSF: {ssf}\n"))
                || r.stderr.ends_with(&format!("SASL SSF: {ssf}")),
            "ssf {ssf}: {}",
            r.stderr
        );
        assert_eq!(
            ssf > 0,
            r.stderr.contains("SASL data security layer installed")
        );
        assert!(
            log.contains(&format!("mech=DIGEST-MD5 bind_ssf={ssf} ")),
            "ssf {ssf}: slapd log:\n{log}"
        );
    }
    // A wrong password: LDAP result 49 (SASL_BADAUTH), not 80.
    let r = tool("ldapwhoami", client, srv, "wrong", LAYERS[0].0, &[]);
    assert_eq!(r.code, Some(49), "{}", r.stderr);
    assert!(
        r.stderr.contains("Invalid credentials (49)"),
        "{}",
        r.stderr
    );
}

#[test]
fn debian_ldapwhoami_against_slapd_with_our_plugin() {
    let ours = PluginDir::new();
    let srv = slapd(Plugin::Ours(&ours), None);
    // Debian's client cannot key 3des (OpenSSL 3); every other layer works.
    whoami_matrix(
        Plugin::Debian,
        &srv,
        &[(112, "failed to init cipher '3des'")],
    );
}

#[test]
fn our_plugin_in_ldapwhoami_against_stock_slapd() {
    let ours = PluginDir::new();
    let srv = slapd(Plugin::Debian, None);
    // Stock slapd's plugin offers 3des and then fails to key it.
    whoami_matrix(Plugin::Ours(&ours), &srv, &[(112, "3des")]);
}

#[test]
fn our_plugin_on_both_sides_every_layer_including_3des() {
    let ours = PluginDir::new();
    let srv = slapd(Plugin::Ours(&ours), None);
    whoami_matrix(Plugin::Ours(&ours), &srv, &[]);
}

/// 100 000 printable bytes, deterministic and non-repetitive.
fn big_value(k: usize) -> String {
    (0..100_000usize)
        .map(|i| (b'a' + ((i * 7 + i / 26 + k) % 26) as u8) as char)
        .collect()
}

/// 100 kB through the layer both ways: slapd -> client (`ldapsearch` of the value)
/// and client -> slapd (`ldapcompare` with the value, split into several packets by
/// libsasl2 since it exceeds slapd's 64 KiB maxbuf), with a one-byte change giving
/// FALSE to show the value was really compared.
fn large_values(client: Plugin<'_>, srv: &Server, layers: &[(&str, u32)]) {
    let value = big_value(0);
    for (props, ssf) in layers {
        let r = tool(
            "ldapsearch",
            client,
            srv,
            "secret",
            props,
            &[
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-b",
                BIG_DN,
                "-s",
                "base",
                "description",
            ],
        );
        assert_eq!(r.code, Some(0), "ssf {ssf}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("SASL SSF: {ssf}")),
            "{}",
            r.stderr
        );
        let got = r
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("description: "))
            .unwrap_or_else(|| panic!("ssf {ssf}: no description in {:.200}", r.stdout));
        assert!(
            got == value,
            "ssf {ssf}: the 100 kB value came back altered ({} bytes)",
            got.len()
        );

        let r = tool(
            "ldapcompare",
            client,
            srv,
            "secret",
            props,
            &[BIG_DN, &format!("description:{value}")],
        );
        assert_eq!(
            r.code,
            Some(6),
            "ssf {ssf}: compare TRUE expected: {} {}",
            r.stdout,
            r.stderr
        );
        assert_eq!(r.stdout.trim(), "TRUE");
        let mut other = value.clone().into_bytes();
        other[77_777] = b'Z';
        let other = String::from_utf8(other).unwrap();
        let r = tool(
            "ldapcompare",
            client,
            srv,
            "secret",
            props,
            &[BIG_DN, &format!("description:{other}")],
        );
        assert_eq!(
            r.code,
            Some(5),
            "ssf {ssf}: compare FALSE expected: {} {}",
            r.stdout,
            r.stderr
        );
    }
}

fn big_ldif() -> (PathBuf, impl Drop) {
    struct Rm(PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    static N: AtomicU32 = AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "digestmd5-big-{}-{}.ldif",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(
        &path,
        format!(
            "dn: {BIG_DN}\nobjectClass: inetOrgPerson\nuid: big\ncn: Big\nsn: Example\ndescription: {}\n",
            big_value(0)
        ),
    )
    .unwrap();
    (path.clone(), Rm(path))
}

#[test]
fn large_values_through_the_layer_ours_on_both_sides() {
    let ours = PluginDir::new();
    let (ldif, _rm) = big_ldif();
    let srv = slapd(Plugin::Ours(&ours), Some(&ldif));
    large_values(
        Plugin::Ours(&ours),
        &srv,
        &[
            LAYERS[1], LAYERS[2], LAYERS[3], LAYERS[4], LAYERS[5], LAYERS[6],
        ],
    );
}

#[test]
fn large_values_through_the_layer_mixed_with_debian() {
    let ours = PluginDir::new();
    let (ldif, _rm) = big_ldif();
    // Debian's client against our server, then our client against Debian's server.
    let srv = slapd(Plugin::Ours(&ours), Some(&ldif));
    large_values(Plugin::Debian, &srv, &[LAYERS[1], LAYERS[3], LAYERS[6]]);
    drop(srv);
    let srv = slapd(Plugin::Debian, Some(&ldif));
    large_values(
        Plugin::Ours(&ours),
        &srv,
        &[LAYERS[1], LAYERS[3], LAYERS[6]],
    );
}
