//! IMAP example client: AUTHENTICATE, then CAPABILITY and LIST.
//!
//! cargo run --example imap -- --server 127.0.0.1:PORT --user alice --password secret \
//!     --realm realm --host localhost [--qop auth|auth-int|auth-conf] [--cipher C] [--mech PLAIN]
mod common;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let result = async {
        let args = common::Args::from_env()?;
        common::imap::run(&args).await
    }
    .await;
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
