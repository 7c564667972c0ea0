//! SMTP AUTH example client (RFC 4954): EHLO, AUTH with 334 continuations in base64
//! (rspauth verified), then MAIL FROM / RCPT TO / DATA of a short message from and to
//! USER@HOST, and QUIT.
//!
//! cargo run --example smtp -- --server 127.0.0.1:PORT --user alice --password secret \
//!     --realm realm --host localhost [--authzid Z] [--qop Q] [--cipher C] [--mech PLAIN]
//!
//! A security layer is used if the server offers one; Postfix does not (qop auth only).
mod common;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let result = async {
        let args = common::Args::from_env()?;
        common::smtp::run(&args).await
    }
    .await;
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
