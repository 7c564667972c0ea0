//! LDAP example client: SASL bind, then WhoAmI and a search of the bound entry.
//!
//! cargo run --example ldap -- --server 127.0.0.1:PORT --user alice --password secret \
//!     --realm realm --host localhost [--qop auth|auth-int|auth-conf] [--cipher C] [--mech PLAIN]
mod common;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let result = async {
        let args = common::Args::from_env()?;
        common::ldap::run(&args).await
    }
    .await;
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
