//! Replays recorded DIGEST-MD5 transcripts (`digest-md5-transcript/1`, see
//! `shared/FIXTURES.md`) against this crate's client and server, in both roles:
//!
//! ```text
//! cargo run --release --example replay -- FILE_OR_DIR...
//! ```
//! A tool, not an example of the API: the logic lives in `tools/replay.rs` (shared
//! with `tests/replay.rs`); this wrapper keeps the documented command.

#[path = "../tools/replay.rs"]
mod replay;

fn main() {
    replay::main()
}
