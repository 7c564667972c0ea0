//! Replays every transcript under `fixtures/` (through `tools/replay.rs`, the code of
//! `cargo run --example replay`), in both roles, with the negative checks.

#[path = "../tools/replay.rs"]
#[allow(dead_code)]
mod replay;

use std::path::PathBuf;

fn replay_dir(dir: &str, at_least: usize) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir);
    let files = replay::collect(&[root]);
    assert!(
        files.len() >= at_least,
        "expected at least {at_least} transcripts in fixtures/{dir}, found {}",
        files.len()
    );
    let (passed, failed) = replay::run(&files);
    assert_eq!(failed, 0, "{failed} transcripts failed in fixtures/{dir}");
    assert_eq!(passed, files.len());
}

#[test]
fn rfc_examples() {
    replay_dir("rfc", 2);
}

#[test]
fn cyrus_recordings() {
    replay_dir("cyrus", 30);
}

#[test]
fn jdk_recordings() {
    replay_dir("jdk", 30);
}
