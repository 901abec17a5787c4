//! TEMPORARY stand-in until the RPC branch lands.
#![allow(missing_docs)]
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
#[derive(Debug, Clone, Default)]
pub struct RpcConfig {
    pub peers: Vec<String>,
}
pub async fn serve(
    listener: tokio::net::TcpListener,
    ledger: Arc<crate::service::Ledger>,
    config: RpcConfig,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let _ = (listener, ledger, config);
    cancel.cancelled().await;
    Ok(())
}
