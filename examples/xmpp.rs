//! XMPP example client: SASL, stream restart, resource binding.
//!
//! cargo run --example xmpp -- --server 127.0.0.1:PORT --user alice --password secret \
//!     --host localhost [--qop auth|auth-int|auth-conf] [--cipher C] [--mech PLAIN]
mod common;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let result = async {
        let args = common::Args::from_env()?;
        common::xmpp::run(&args).await
    }
    .await;
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
