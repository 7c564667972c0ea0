//! ZooKeeper example client: ConnectRequest, SASL DIGEST-MD5 in ZooKeeper's SASL
//! packets (rspauth verified), whoAmI, then create / getData / delete of a fresh node
//! readable only by the authenticated user, and closeSession.
//!
//! cargo run --example zookeeper -- --server 127.0.0.1:PORT --user alice --password secret
//!     [--host zk-sasl-md5] [--realm zk-sasl-md5] [--authzid Z] [--timeout S]
//!
//! ZooKeeper's server does qop auth only (no security layer).
mod common;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let result = async {
        let args = common::Args::from_env()?;
        common::zookeeper::run(&args).await
    }
    .await;
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
