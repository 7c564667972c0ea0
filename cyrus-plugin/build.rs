// Tells the shared test helpers (tests/common/peer.rs, compiled into this crate's
// tests/interop_cyrus_ours.rs) to run the Cyrus peer with our plugin.
fn main() {
    println!("cargo:rustc-env=SASL_DIGEST_MD5_CYRUS_PLUGIN_TESTS=1");
}
