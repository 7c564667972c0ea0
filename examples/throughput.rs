//! Security-layer throughput, authentication rate and memory, next to Cyrus SASL and
//! the bare primitives (`docs/performance.md`):
//!
//! ```text
//! cargo run --release --example throughput              # plain-text table
//! cargo run --release --example throughput -- --json    # one JSON object per line
//! ```
//! A tool, not an example of the API: the code lives in `tools/throughput.rs` (with
//! its C half, `tools/cyrus/bench.c`); this wrapper keeps the documented command.

#[path = "../tools/throughput.rs"]
mod throughput;

fn main() {
    throughput::main()
}
